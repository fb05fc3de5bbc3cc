"""test_openapi.py — docs/openapi.yaml against the route tables in the code: every operation the
file describes exists (daemon/http_api.c's http_routes[] and daemon/http_wf.h's HTTP_WF_ROUTES),
and every workflow route (http_wf.h) is described. Routes other areas add to http_api.c are not
required here, so their branches do not have to touch this file. Exit 0 pass, 77 skip, 1 fail."""
import re
import sys

try:
    import yaml
except ImportError:
    print("skipped: python3-yaml is not installed")
    sys.exit(77)

ROUTE = re.compile(r'\{"(GET|POST|PUT|PATCH|DELETE)",\s*"(/api[^"]*)"')


def routes(path):
    with open(path) as f:
        return {(m.group(1), m.group(2)) for m in ROUTE.finditer(f.read())}


def main():
    code = routes("daemon/http_api.c") | routes("daemon/http_wf.h")
    workflow = routes("daemon/http_wf.h")
    with open("docs/openapi.yaml") as f:
        doc = yaml.safe_load(f)
    described = set()
    for path, ops in doc["paths"].items():
        for method in ops:
            described.add((method.upper(), path))
    # The code names path parameters differently in places ({sha} vs {sha}); compare shapes.
    shape = lambda r: (r[0], re.sub(r"\{[^}]*\}", "{}", r[1]))
    code_shapes = {shape(r) for r in code}
    stale = sorted(r for r in described if shape(r) not in code_shapes)
    missing = sorted(r for r in workflow if shape(r) not in {shape(d) for d in described})
    for r in stale:
        print("described but not routed: %s %s" % r)
    for r in missing:
        print("workflow route not described: %s %s" % r)
    if stale or missing:
        return 1
    print("ok: %d operations described, all routed; %d workflow routes all described"
          % (len(described), len(workflow)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
