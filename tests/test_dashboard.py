#!/usr/bin/python3
"""The dashboard in a real browser: headless Chromium (Debian's chromium + chromium-driver, driven
by python3-selenium) against the real microtd with simulated boards (build/microt-sim on ptys).

Checks, each through the page as a person uses it and cross-checked through the REST API:
- the Boards page lists every simulated board, online, with its board kind;
- the board page shows identity and memory, and a wrong token is refused while the right one
  unlocks changes;
- a board killed turns offline on the open page without a reload (the event stream), and comes
  back online when restarted;
- with a board given the real ProxylessNAS part model (uploaded through its page, the push's
  progress shown) and Fashion-MNIST samples, trained through its page: moving the ratio slider
  (keyboard: End, then Home) changes the ratio the board reports through the API, and its next
  inferences follow (many stage-1 exits at ratio 1, few at ratio 0); the accuracy-floor and
  energy-budget modes make the gateway pick a ratio that the board's curve justifies; a picture
  chosen or dropped on the page becomes a sample (its PNG the model's input size), relabeled and
  deleted there; the board's camera adds one; a picture classified on the page shows its stage,
  confidence, cycles and energy; the activity chart appears live; the Boards page shows the
  board's ratio, accuracy, energy and exit rate. This part skips (saying so) without
  ../shared/models (MICROT_SHARED) or Debian's dataset-fashion-mnist.
Screenshots of the pages (desktop and phone widths) go to build/screenshots/ (not in the repo).
Exit 0 pass, 77 skip (no chromium / chromedriver / selenium), 1 fail.
"""
import gzip, json, os, re, shutil, signal, socket, struct, subprocess, sys, tempfile, time, urllib.request
import urllib.error

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("MICROT_BUILD", "build"))
SHOTS = os.path.join(BUILD, "screenshots")
TOKEN = "dashboard-test-token-0123456789"
UIDS = ["4d5430000000000000000a01", "4d5430000000000000000a02", "4d5430000000000000000a03"]
KINDS = ["h7a3zi", "l4r5zi", "h7a3zi"]
SHARED = os.path.realpath(os.environ.get("MICROT_SHARED", os.path.join(ROOT, "..", "shared")))
MODEL = os.path.join(SHARED, "models", "proxyless-w0.3.tflite")
FMNIST = "/usr/share/datasets/fashion-mnist"
FMNIST_NAMES = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
                "bag", "boot"]  # the gateway's names (names=fashion-mnist)

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    print("SKIP: python3-selenium is not installed (scripts/deps.sh installs it)")
    sys.exit(77)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
    print("SKIP: chromium and chromium-driver are needed (scripts/deps.sh installs them)")
    sys.exit(77)


def fail(msg):
    raise AssertionError(msg)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Gateway:
    """microtd plus simulated boards, in a temporary folder, stopped by PID."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="test_dashboard.")
        os.makedirs(os.path.join(self.dir, "ports"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.sims = {}
        self.daemon = None
        self.camera = None
        # Board 1 gets a camera (microt-sim --camera): two Fashion-MNIST test pictures as frames.
        if os.path.exists(FMNIST + "/t10k-images-idx3-ubyte.gz"):
            self.camera = os.path.join(self.dir, "camera")
            os.makedirs(self.camera)
            _, rows, cols, images, _ = read_idx(FMNIST + "/t10k-images-idx3-ubyte.gz",
                                                FMNIST + "/t10k-labels-idx1-ubyte.gz")
            for i in range(2):
                with open(os.path.join(self.camera, f"frame-{i}.pgm"), "wb") as f:
                    f.write(pgm(rows, cols, images, i))

    def log(self, name):
        return open(os.path.join(self.dir, name + ".log"), "ab")

    def start_sim(self, i):
        p = subprocess.Popen(
            [os.path.join(BUILD, "microt-sim"), "--board", KINDS[i], "--uid", UIDS[i],
             "--pty", os.path.join(self.dir, "ports", f"board-{i}"),
             "--flash", os.path.join(self.dir, f"flash-{i}.bin")] +
            (["--camera", self.camera] if i == 1 and self.camera else []),
            stdout=self.log(f"sim-{i}"), stderr=subprocess.STDOUT)
        self.sims[i] = p

    def kill_sim(self, i):
        p = self.sims.pop(i)
        p.send_signal(signal.SIGKILL)
        p.wait()

    def start(self):
        for i in range(len(UIDS)):
            self.start_sim(i)
        self.daemon = subprocess.Popen(
            [os.path.join(BUILD, "microtd"), "--http", f"127.0.0.1:{self.port}",
             "--db", os.path.join(self.dir, "microt.db"), "--state-dir", self.dir,
             "--token", TOKEN, "--web", os.path.join(ROOT, "web"),
             "--port", os.path.join(self.dir, "ports", "board-*")],
            stdout=self.log("microtd"), stderr=subprocess.STDOUT)

    def stop(self):
        for i in list(self.sims):
            self.kill_sim(i)
        if self.daemon:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(5)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        if os.environ.get("KEEP_TMP"):
            print("# kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def api(self, method, path, body=None, token=TOKEN, raw=None, ctype=None):
        data, headers = None, {}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if raw is not None:
            data = raw
            headers["Content-Type"] = ctype or "application/octet-stream"
        if token and method != "GET":
            headers["Authorization"] = "Bearer " + token
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read()
                return r.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                return e.code, json.loads(text)
            except ValueError:
                return e.code, None
        except (urllib.error.URLError, ConnectionError):
            return 0, None  # not listening (yet)

    def device(self, uid):
        st, d = self.api("GET", f"/api/devices/{uid}")
        return d if st == 200 else None


def read_idx(images_gz, labels_gz):
    """(n, rows, cols, image bytes, label bytes) of an IDX pair (Fashion-MNIST's format)."""
    with gzip.open(images_gz) as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 0x803:
            fail("not an IDX image file: " + images_gz)
        images = f.read(n * rows * cols)
    with gzip.open(labels_gz) as f:
        magic, n2 = struct.unpack(">II", f.read(8))
        labels = f.read(n2)
    return n, rows, cols, images, labels


def pick(labels, per_class, start=0):
    taken, out = [0] * 10, []
    for i in range(start, len(labels)):
        if taken[labels[i]] < per_class:
            taken[labels[i]] += 1
            out.append(i)
        if len(out) == 10 * per_class:
            break
    return out


def idx_body(rows, cols, images, labels, idxs):
    """An uncompressed IDX pair of the chosen images, images file then labels file."""
    px = rows * cols
    img = struct.pack(">IIII", 0x803, len(idxs), rows, cols) + b"".join(
        images[i * px:(i + 1) * px] for i in idxs)
    lab = struct.pack(">II", 0x801, len(idxs)) + bytes(labels[i] for i in idxs)
    return img, lab


def pgm(rows, cols, images, i):
    return b"P5\n%d %d\n255\n" % (cols, rows) + images[i * rows * cols:(i + 1) * rows * cols]


def wait_job(gw, job_id, timeout_s):
    def done():
        st, j = gw.api("GET", f"/api/jobs/{job_id}")
        return j if st == 200 and j["state"] in ("done", "failed", "interrupted") else None
    j = wait_for(f"job {job_id}", done, timeout_s)
    if j["state"] != "done":
        fail(f"job {job_id} {j['state']}: {j.get('error')}")
    return j


def wait_for(what, cond, timeout_s):
    end = time.time() + timeout_s
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    fail(f"timed out after {timeout_s} s waiting for {what}")


def browser(user_data_dir):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", f"--user-data-dir={user_data_dir}",
              "--window-size=1280,900"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def shot(drv, name, full_height=True):
    os.makedirs(SHOTS, exist_ok=True)
    path = os.path.join(SHOTS, name + ".png")
    if full_height:
        # The whole page, not only the window (Chromium's DevTools capture beyond the viewport).
        import base64
        time.sleep(0.3)
        png = drv.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        with open(path, "wb") as f:
            f.write(base64.b64decode(png["data"]))
    else:
        drv.save_screenshot(path)
    print("# screenshot", path)


def js_errors(drv):
    errs = []
    for e in drv.get_log("browser"):
        if e.get("level") == "SEVERE":
            msg = e.get("message", "")
            # The event stream is cut on purpose when a test restarts things; favicon is absent.
            if "/api/events" in msg or "favicon" in msg:
                continue
            if "/api/auth" in msg and "401" in msg:  # the wrong token the test typed on purpose
                continue
            errs.append(msg)
    return errs


def on_element(drv, css, action):
    """Runs action(element) on an element found afresh, again if a live update redrew it
    meanwhile (or it is still disabled until the redraw that enables it)."""
    from selenium.common.exceptions import ElementNotInteractableException, StaleElementReferenceException
    last = None
    for attempt in range(20):
        try:
            return action(drv.find_element(By.CSS_SELECTOR, css))
        except (StaleElementReferenceException, ElementNotInteractableException) as e:
            last = e
            time.sleep(0.2)
    fail(f"{css}: {str(last).splitlines()[0]}")


def type_into(drv, element_id, *keys):
    on_element(drv, "#" + element_id, lambda e: e.send_keys(*keys))


def row_state(drv, uid):
    # Read in one script: the table is repainted live, so element handles go stale.
    return drv.execute_script(
        "const r = document.querySelector(`#fleet-table tr[data-id='${arguments[0]}']`);"
        "return r ? r.dataset.state : null", uid)


def test_fleet(gw, drv):
    wait_for("three boards online in the API",
             lambda: all((gw.device(u) or {}).get("state") == "online" for u in UIDS), 20)
    drv.get(gw.base + "/")
    WebDriverWait(drv, 20).until(EC.presence_of_element_located((By.ID, "fleet-table")))
    wait_for("every board listed online on the page",
             lambda: all(row_state(drv, u) == "online" for u in UIDS), 20)
    text = drv.find_element(By.ID, "fleet-table").text
    if "STM32L4R5ZI" not in text or "STM32H7A3ZI" not in text:
        fail("the board kinds are not shown: " + text[:300])
    wait_for("the live indicator", lambda: drv.find_element(By.ID, "live").text == "Live", 20)

    # Filter: the L4 board alone, then none, then all again.
    box = drv.find_element(By.ID, "filter-text")
    box.send_keys("l4r5")
    wait_for("filter to one row",
             lambda: len(drv.find_elements(By.CSS_SELECTOR, "#fleet-table tbody tr")) == 1, 20)
    box.send_keys("zzz")
    wait_for("the no-match message", lambda: "No board matches" in drv.find_element(By.ID, "fleet-body").text, 20)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    wait_for("all rows back",
             lambda: len(drv.find_elements(By.CSS_SELECTOR, "#fleet-table tbody tr")) == 3, 20)

    # Sort by state, then by board descending: the order on the page follows.
    on_element(drv, "th button[data-focus=sort-board]", lambda e: e.click())  # ascending -> descending
    ids = drv.execute_script(
        "return [...document.querySelectorAll('#fleet-table tbody tr')].map(r => r.dataset.id)")
    kinds = [next(KINDS[i] for i, u in enumerate(UIDS) if u == x) for x in ids]
    if kinds[0] != "l4r5zi":
        fail(f"descending sort by board should put l4r5zi first, got {kinds}")
    on_element(drv, "th button[data-focus=sort-board]", lambda e: e.click())
    shot(drv, "fleet")


def test_offline_live(gw, drv):
    """A board killed turns offline on the open page, without a reload; back online on restart."""
    drv.get(gw.base + "/")
    wait_for("rows", lambda: row_state(drv, UIDS[0]) == "online", 20)
    wait_for("the live indicator", lambda: drv.find_element(By.ID, "live").text == "Live", 20)
    marker = drv.execute_script("window.__noReload = 42; return window.__noReload")
    gw.kill_sim(0)
    t0 = time.time()
    wait_for("board 0 offline on the page", lambda: row_state(drv, UIDS[0]) == "offline", 20)
    print(f"# board 0 shown offline {time.time() - t0:.1f} s after it was killed")
    if drv.execute_script("return window.__noReload") != marker:
        fail("the page was reloaded")
    if (gw.device(UIDS[0]) or {}).get("state") != "offline":
        fail("the API does not say offline")
    shot(drv, "fleet-one-offline")
    gw.start_sim(0)
    wait_for("board 0 online again on the page", lambda: row_state(drv, UIDS[0]) == "online", 20)


def test_board_page(gw, drv):
    uid = UIDS[1]
    drv.get(gw.base + f"/#/board/{uid}")
    WebDriverWait(drv, 20).until(EC.presence_of_element_located((By.ID, "memory-title")))
    page = drv.find_element(By.ID, "main").text
    for want in ("STM32L4R5ZI", uid, "Memory", "Flash", "SRAM", "Connection history"):
        if want not in page:
            fail(f"board page lacks '{want}'")

    # Token: a wrong one is refused with a message, the right one unlocks changes.
    drv.find_element(By.ID, "token-button").click()
    inp = drv.find_element(By.ID, "token-input")
    inp.send_keys("this-is-not-the-token-000")
    drv.find_element(By.ID, "token-save").click()
    WebDriverWait(drv, 20).until(EC.visibility_of_element_located((By.ID, "token-error")))
    inp.clear()
    inp.send_keys(TOKEN)
    drv.find_element(By.ID, "token-save").click()
    wait_for("unlocked", lambda: drv.find_element(By.ID, "token-button").text == "Lock changes", 20)
    if drv.execute_script("return sessionStorage.getItem('microt.token')") != TOKEN:
        fail("the token is not kept in sessionStorage")
    on_element(drv, "#ping-button", lambda e: e.click())
    wait_for("ping toast", lambda: "answered in" in drv.find_element(By.ID, "toasts").text, 20)
    shot(drv, "board")


def have_personalization_inputs():
    missing = [p for p in (MODEL, FMNIST + "/train-images-idx3-ubyte.gz") if not os.path.exists(p)]
    if missing:
        print("# personalization part skipped: missing " + ", ".join(missing) +
              " (../shared/models via MICROT_SHARED, Debian's dataset-fashion-mnist)")
        return False
    return True


def stage1_count(gw, uid, test, idxs, tag):
    """Classifies the chosen test images through the API; how many stopped at stage 1."""
    rows, cols, images, labels = test
    n = 0
    for i in idxs:
        for attempt in range(3):  # a 504: the simulated board was starved of CPU past the deadline
            st, r = gw.api("POST", f"/api/devices/{uid}/classify?source={tag}-{i}&expected={FMNIST_NAMES[labels[i]]}",
                           raw=pgm(rows, cols, images, i), ctype="image/x-portable-graymap")
            if st != 504:
                break
        if st != 200:
            fail(f"classify answered {st}: {r}")
        n += r["stage"] == 1
    return n


def test_personalization(gw, drv):
    uid = UIDS[1]
    t0 = time.time()
    # The model through the page: upload, the push's progress, the board running it.
    drv.get(gw.base + f"/#/board/{uid}")
    WebDriverWait(drv, 20).until(EC.element_to_be_clickable((By.ID, "model-upload")))
    type_into(drv, "model-file", MODEL)
    type_into(drv, "model-cut", "blocks.8")
    on_element(drv, "#model-upload", lambda e: e.click())
    WebDriverWait(drv, 20).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#model-section .job-progress")))

    def active_model():
        st, m = gw.api("GET", f"/api/devices/{uid}/model")
        return st == 200 and m["model"] and m["live"] and m["live"]["active"] and \
            m["live"]["sha256"] == m["model"]["sha256"]
    wait_for("the pushed model active on the board", active_model, 60)
    wait_for("the page showing it", lambda: "proxyless-w0.3.tflite" in drv.find_element(By.ID, "model-section").text
             and "Done" in drv.find_element(By.ID, "model-section").text, 20)

    # 80 Fashion-MNIST samples through the API (an IDX pair, as microtctl samples idx sends it).
    n, rows, cols, images, labels = read_idx(FMNIST + "/train-images-idx3-ubyte.gz",
                                             FMNIST + "/train-labels-idx1-ubyte.gz")
    img, lab = idx_body(rows, cols, images, labels, pick(labels, 8))
    st, r = gw.api("POST", f"/api/devices/{uid}/samples/idx?images_bytes={len(img)}&names=fashion-mnist",
                   raw=img + lab)
    if st != 201:
        fail(f"IDX samples answered {st}: {r}")

    # Training through the page: the button, its progress, the result in the history.
    on_element(drv, "#train-button", lambda e: e.click())
    WebDriverWait(drv, 20).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#training-section .job-progress")))

    def trained():
        st, j = gw.api("GET", f"/api/jobs?device={uid}&limit=5")
        done = [x for x in j["jobs"] if x["kind"] == "train" and x["state"] in ("done", "failed")]
        return done[0] if done else None
    job = wait_for("the training to end", trained, 120)
    if job["state"] != "done":
        fail(f"training {job['state']}: {job['error']}")
    wait_for("the training in the page's history", lambda: drv.execute_script(
        "const t = document.querySelector('#training-table tbody'); return t && t.textContent.includes('Done')"), 20)
    print(f"# board given its model and trained through the page in {time.time() - t0:.1f} s "
          f"(80 samples): staged hold-out accuracy {job['result']['staged_holdout_accuracy']:.3f}")
    _, tr, tc, timages, tlabels = read_idx(FMNIST + "/t10k-images-idx3-ubyte.gz",
                                           FMNIST + "/t10k-labels-idx1-ubyte.gz")
    test = (tr, tc, timages, tlabels)
    held_out = pick(tlabels, 1)  # ten test images, one per class

    # The trade-off chart and the slider on the board's page (drawn when the training ended).
    WebDriverWait(drv, 20).until(EC.element_to_be_clickable((By.ID, "ratio-slider")))
    WebDriverWait(drv, 20).until(EC.presence_of_element_located((By.ID, "tradeoff-chart")))

    def ratio_is(want):
        st, d = gw.api("GET", f"/api/devices/{uid}/decision")
        return st == 200 and d["ratio"] is not None and abs(d["ratio"] - want) < 1e-3

    type_into(drv, "ratio-slider", Keys.END)  # keyboard: all the way to ratio 1
    wait_for("ratio 1 in force through the API", lambda: ratio_is(1.0), 20)
    wait_for("the page saying so", lambda: "ratio 1.00" in drv.find_element(By.ID, "decision-status").text, 20)
    hi = stage1_count(gw, uid, test, held_out, "r1")
    type_into(drv, "ratio-slider", Keys.HOME)  # and to ratio 0
    wait_for("ratio 0 in force through the API", lambda: ratio_is(0.0), 20)
    lo = stage1_count(gw, uid, test, held_out, "r0")
    print(f"# the same {len(held_out)} images: {hi} stopped at stage 1 with the slider at 1, {lo} at 0")
    if not (hi > lo and hi >= len(held_out) // 2 and lo <= len(held_out) // 2):
        fail(f"the board's inferences do not follow the slider: {hi} exits at ratio 1, {lo} at ratio 0")

    # The two other modes: the gateway picks the ratio from the board's curve.
    st, curve = gw.api("GET", f"/api/devices/{uid}/tradeoff")
    points = curve["points"]

    def decision():
        return gw.api("GET", f"/api/devices/{uid}/decision")[1]

    def point_at(r):
        return min(points, key=lambda p: abs(p["ratio"] - r))

    floor = sorted(p["accuracy"] for p in points)[len(points) // 2]  # the median accuracy
    on_element(drv, "input[name=decision-mode][value=accuracy_floor]", lambda e: e.click())
    type_into(drv, "accuracy-floor", Keys.CONTROL, "a")
    type_into(drv, "accuracy-floor", f"{floor * 100:.4f}", Keys.ENTER)
    on_element(drv, "#decision-section .decision-controls .btn-primary", lambda e: e.click())
    wait_for("the accuracy floor in force", lambda: decision()["policy"] == "accuracy_floor", 20)
    d = decision()
    if point_at(d["ratio"])["accuracy"] < floor - 1e-4:
        fail(f"accuracy floor {floor}: the gateway chose ratio {d['ratio']} below it")
    if any(p["accuracy"] >= floor - 1e-4 and p["energy_uj"] < point_at(d["ratio"])["energy_uj"] - 1e-3 for p in points):
        fail(f"accuracy floor {floor}: ratio {d['ratio']} is not the cheapest that keeps it")
    print(f"# accuracy floor {floor:.3f}: the gateway chose ratio {d['ratio']:.2f}")

    on_element(drv, "input[name=decision-mode][value=energy_budget]", lambda e: e.click())
    unit = on_element(drv, "label[for=energy-budget]", lambda e: e.text)  # "Energy budget (mJ per image)"
    per = {"(J": 1e6, "(mJ": 1e3, "(µJ": 1}[unit.split(" ")[2]]
    budget_uj = sorted(p["energy_uj"] for p in points)[len(points) // 2]
    type_into(drv, "energy-budget", Keys.CONTROL, "a")
    type_into(drv, "energy-budget", f"{budget_uj / per + 0.005:.2f}")
    on_element(drv, "#decision-section .decision-controls .btn-primary", lambda e: e.click())
    wait_for("the energy budget in force", lambda: decision()["policy"] == "energy_budget", 20)
    d = decision()
    if point_at(d["ratio"])["energy_uj"] > d["target"] + 1e-3:
        fail(f"energy budget {d['target']} µJ: the gateway chose ratio {d['ratio']} over it")
    print(f"# energy budget {d['target']:.0f} µJ: the gateway chose ratio {d['ratio']:.2f}")

    # Back to setting the ratio by hand: 0, then 0.5 one keyboard step of 0.05 at a time.
    on_element(drv, "input[name=decision-mode][value=ratio]", lambda e: e.click())
    type_into(drv, "ratio-slider", Keys.HOME)
    wait_for("ratio 0 in force", lambda: ratio_is(0.0), 20)
    for _ in range(10):
        type_into(drv, "ratio-slider", Keys.ARROW_RIGHT)
    wait_for("ratio 0.5 in force", lambda: ratio_is(0.5), 20)

    # A picture uploaded through the page becomes a sample; relabel and delete it there too.
    st, before = gw.api("GET", f"/api/devices/{uid}/samples?limit=0")
    tmp = tempfile.mkdtemp(prefix="test_dashboard.files.")
    try:
        path = os.path.join(tmp, "my-sneaker.pgm")
        with open(path, "wb") as f:
            f.write(pgm(tr, tc, timages, held_out[7]))
        type_into(drv, "upload-label", "sneaker")
        type_into(drv, "upload-files", path)
        wait_for("the sample stored",
                 lambda: gw.api("GET", f"/api/devices/{uid}/samples?limit=0")[1]["total"] == before["total"] + 1, 20)
        st, page = gw.api("GET", f"/api/devices/{uid}/samples?after=0&limit=500")
        new = max(page["samples"], key=lambda x: x["id"])
        if new["label"] != "sneaker" or new["source"] != "my-sneaker.pgm":
            fail(f"uploaded sample stored as {new}")
        # Its picture: a PNG of the model's input size (the tensor the board gets, as pixels).
        with urllib.request.urlopen(gw.base + f"/api/devices/{uid}/samples/{new['id']}/image") as r:
            png = r.read()
        w, hgt, depth, ctype = struct.unpack(">IIBB", png[16:26])
        st, m = gw.api("GET", f"/api/devices/{uid}/model")
        if png[:8] != b"\x89PNG\r\n\x1a\n" or [hgt, w] != m["model"]["input_shape"][:2] or \
                ctype != (2 if m["model"]["input_shape"][2] == 3 else 0):
            fail(f"sample picture: {png[:8]!r} {w}x{hgt} colour type {ctype}, model input {m['model']['input_shape']}")
        sel = f'#gallery li[data-id="{new["id"]}"]'
        WebDriverWait(drv, 20).until(EC.presence_of_element_located((By.CSS_SELECTOR, sel)))
        wait_for("its picture drawn", lambda: drv.execute_script(
            "const i = document.querySelector(arguments[0] + ' img'); return i && i.complete && i.naturalWidth > 0", sel), 20)
        on_element(drv, sel + " input", lambda e: (e.send_keys(Keys.CONTROL, "a"), e.send_keys("trainer", Keys.ENTER)))
        wait_for("the relabel stored", lambda: any(
            x["id"] == new["id"] and x["label"] == "trainer"
            for x in gw.api("GET", f"/api/devices/{uid}/samples?after={new['id'] - 1}&limit=1")[1]["samples"]), 20)
        shot(drv, "board-trained")
        on_element(drv, sel + " button", lambda e: e.click())
        wait_for("the sample deleted",
                 lambda: gw.api("GET", f"/api/devices/{uid}/samples?limit=0")[1]["total"] == before["total"], 20)

        # Drag and drop: a file dropped on the drop zone (the browser's own drop event).
        type_into(drv, "upload-label", Keys.CONTROL, "a")
        type_into(drv, "upload-label", "coat")
        import base64
        drv.execute_script(
            "const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));"
            "const dt = new DataTransfer();"
            "dt.items.add(new File([bytes], 'dropped-coat.pgm', {type: 'image/x-portable-graymap'}));"
            "document.getElementById('sample-drop').dispatchEvent("
            "  new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));",
            base64.b64encode(pgm(tr, tc, timages, held_out[4])).decode())
        wait_for("the dropped picture stored as a sample", lambda: any(
            x["source"] == "dropped-coat.pgm" and x["label"] == "coat"
            for x in gw.api("GET", f"/api/devices/{uid}/samples?after={new['id'] - 1}&limit=10")[1]["samples"]), 20)

        # A picture taken by the board's own camera, labeled with a trained class.
        if "capture" in (gw.device(uid) or {}).get("capabilities", []):
            type_into(drv, "upload-label", Keys.CONTROL, "a")
            type_into(drv, "upload-label", "bag")
            on_element(drv, "#capture-button", lambda e: e.click())
            # (the deleted sample's id may be given again: SQLite reuses the largest rowid)
            wait_for("the captured sample", lambda: any(
                x["source"] == "capture" and x["label"] == "bag"
                for x in gw.api("GET", f"/api/devices/{uid}/samples?after={new['id'] - 1}&limit=10")[1]["samples"]), 20)
            print("# a picture from the board's camera became a sample labeled 'bag'")
        else:
            fail("the simulated board with --camera does not report the capture capability")

        # Classify through the page.
        st, inf_before = gw.api("GET", f"/api/devices/{uid}/inferences?limit=500")
        type_into(drv, "classify-file", path)
        type_into(drv, "classify-expected", "sneaker")
        on_element(drv, "#classify-button", lambda e: e.click())
        stage = WebDriverWait(drv, 20).until(EC.visibility_of_element_located((By.ID, "classify-stage"))).text
        if not stage.startswith("stage "):
            fail("classify result lacks the stage: " + stage)
        out = drv.find_element(By.ID, "classify-result").text
        for want in ("Confidence", "Cycles", "Energy"):
            if want not in out:
                fail(f"classify result lacks {want}: {out}")
        st, inf_after = gw.api("GET", f"/api/devices/{uid}/inferences?limit=500")
        if inf_after["summary"]["count"] != inf_before["summary"]["count"] + 1:
            fail("the page's classification was not recorded")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # Activity: the counters the gateway reads every few seconds arrive as events; the chart
    # appears without a reload and counts the classifications above.
    WebDriverWait(drv, 20).until(EC.presence_of_element_located((By.ID, "activity-chart")))
    wait_for("the activity summary counting inferences", lambda: re.search(
        r"Since the board started: [1-9]\d* inferences", drv.find_element(By.ID, "activity-summary").text), 15)
    drv.set_window_size(1280, 900)
    shot(drv, "board-trained")
    drv.get(gw.base + "/")
    wait_for("the trained board's numbers in the fleet", lambda: drv.execute_script(
        "const r = document.querySelector(`#fleet-table tr[data-id='${arguments[0]}']`);"
        "return r && r.children[4].textContent === '0.50' && r.children[5].textContent.endsWith('%')", uid), 20)
    shot(drv, "fleet-trained")


def firmware_image(version, chip_id, sp):
    """A bootable 64 KiB image like a port's post-link step makes: vector table (stack in the
    part's SRAM, Thumb reset vector inside the image), code bytes, a blank stretch, and the MicroT
    header stamped by scripts/fw_stamp.py."""
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import fw_stamp
    img = bytearray((i * 31 + 3 + (i >> 9)) & 0xFF for i in range(64 * 1024))
    img[24 * 1024:32 * 1024] = b"\xff" * (8 * 1024)
    struct.pack_into("<II", img, 0, sp, 0x08000801)
    fw_stamp.stamp(img, version, chip_id)
    return bytes(img)


def test_firmware(gw, drv):
    """Flash a new image on an H7A3ZI board through its page; it comes back with that version."""
    uid = UIDS[2]
    tmp = tempfile.mkdtemp(prefix="test_dashboard.fw.")
    try:
        path = os.path.join(tmp, "microt-h7-2.0.0.bin")
        with open(path, "wb") as f:
            f.write(firmware_image("2.0.0-web", 0x480, 0x24010000))
        drv.get(gw.base + f"/#/board/{uid}")
        WebDriverWait(drv, 20).until(EC.element_to_be_clickable((By.ID, "firmware-flash")))
        type_into(drv, "firmware-file", path)
        t0 = time.time()
        on_element(drv, "#firmware-flash", lambda e: e.click())
        saw_flashing = False
        job = None
        while time.time() - t0 < 60:
            saw_flashing |= bool(drv.execute_script(
                "return [...document.querySelectorAll('.board-head .badge')].some(b => b.textContent === 'Flashing')"))
            st, jobs = gw.api("GET", f"/api/jobs?device={uid}&limit=5")
            job = next((j for j in (jobs or {}).get("jobs", []) if j["kind"] == "flash"), None)
            if job and job["state"] not in ("queued", "running"):
                break
            time.sleep(0.1)
        if not job or job["state"] != "done" or not job["result"]["flashed"]:
            fail(f"flash job: {job}")
        d = gw.device(uid) or {}
        if d.get("firmware_version") != "2.0.0-web" or d.get("state") != "online":
            fail(f"the board did not come back with firmware 2.0.0-web: {d}")
        print(f"# flashed through the page in {time.time() - t0:.1f} s ({job['result']['pages_written']} pages "
              f"written); the page showed 'Flashing' while it ran: {saw_flashing}")
        wait_for("the job's end on the page", lambda: "Done" in drv.find_element(By.ID, "firmware-section").text, 20)
        wait_for("the new version on the page, without a reload", lambda:
                 "2.0.0-web" in drv.find_element(By.ID, "firmware-section").text and
                 "0.1.0 → 2.0.0-web" in drv.find_element(By.ID, "firmware-section").text, 15)
        shot(drv, "board-flashed")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def too_wide(drv):
    """The elements that stick out on the right, for the failure message."""
    return drv.execute_script(
        "const W = document.documentElement.clientWidth, out = [];"
        "for (const e of document.querySelectorAll('body *')) { const r = e.getBoundingClientRect();"
        "  if (r.right > W + 1) out.push(`${e.tagName}#${e.id}.${e.className} ${Math.round(r.right)}px`); }"
        "return [W, out.slice(0, 8)]")


def test_phone(gw, drv):
    # A phone's screen: 390 CSS pixels wide, overlay scrollbars, touch (DevTools emulation).
    drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                        {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    drv.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})
    drv.get(gw.base + "/")
    wait_for("rows", lambda: row_state(drv, UIDS[2]) == "online", 20)
    overflow = drv.execute_script("return document.documentElement.scrollWidth > document.documentElement.clientWidth + 1")
    if overflow:
        fail(f"the Boards page scrolls sideways on a phone-sized screen: {too_wide(drv)}")
    shot(drv, "fleet-phone")
    drv.get(gw.base + f"/#/board/{UIDS[2]}")
    WebDriverWait(drv, 20).until(EC.presence_of_element_located((By.ID, "memory-title")))
    time.sleep(0.5)
    if drv.execute_script("return document.documentElement.scrollWidth > document.documentElement.clientWidth + 1"):
        fail(f"the board page scrolls sideways on a phone-sized screen: {too_wide(drv)}")
    shot(drv, "board-phone")
    drv.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    drv.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})


def main():
    for exe in ("microtd", "microt-sim"):
        if not os.access(os.path.join(BUILD, exe), os.X_OK):
            print(f"FAIL: {BUILD}/{exe} is not built (make)")
            return 1
    gw = Gateway()
    udd = tempfile.mkdtemp(prefix="test_dashboard.chromium.")
    drv = None
    rc = 1
    try:
        gw.start()
        try:
            drv = browser(udd)
        except WebDriverException as e:
            print("SKIP: chromium did not start:", str(e).splitlines()[0])
            return 77
        drv.set_page_load_timeout(20)
        tests = [test_fleet, test_board_page, test_offline_live, test_phone]
        tests.insert(3, test_firmware)
        if have_personalization_inputs():
            tests.insert(3, test_personalization)
        for t in tests:
            t0 = time.time()
            t(gw, drv)
            errs = js_errors(drv)
            if errs:
                fail(f"{t.__name__}: errors in the browser console: {errs}")
            print(f"ok {t.__name__} ({time.time() - t0:.1f} s)")
        rc = 0
    except (AssertionError, WebDriverException) as e:
        import traceback
        traceback.print_exc(limit=3)
        print("FAIL:", str(e).splitlines()[0] if str(e) else repr(e))
        if drv:
            try:
                shot(drv, "failure", full_height=False)
            except WebDriverException:
                pass
    finally:
        if drv:
            drv.quit()
        gw.stop()
        shutil.rmtree(udd, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
