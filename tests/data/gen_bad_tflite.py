#!/usr/bin/python3
"""Writes the .tflite cases the reader's cmocka suite (tests/test_tflite_reader.c) is fed.

Usage: gen_bad_tflite.py OUTDIR

A tiny int8 CNN (CONV_2D -> DEPTHWISE_CONV_2D -> ADD -> MEAN -> FULLY_CONNECTED, per-channel
weights) is serialized with the flatbuffers runtime's generic Builder (python3-flatbuffers, no
generated code) following ../shared/tflite/schema.fbs. Each case then changes one thing, either in
the model description before it is built (a bad index, a shape that does not match its data, a
missing option...) or in the bytes after (a vtable pointing outside the file, a string without its
NUL, a vector claiming more elements than the file holds...).

OUTDIR/manifest.txt lists one case per line: `FILE STATUS SUBSTRING`, where STATUS is the
tfl_status_t the reader must return (0 OK, -1 EFORMAT, -2 EUNSUPPORTED) and SUBSTRING (the rest of
the line) a piece of text its error message must contain ("-" for any). The `ok_*` cases parse; the C suite checks
their content by name. Every file is regenerated on each run; none is committed.
"""
import copy
import os
import struct
import sys

import flatbuffers

# ---- schema numbers (schema.fbs) ----
INT8, INT32, FLOAT32 = 9, 2, 0
CONV_2D, DEPTHWISE_CONV_2D, ADD, MEAN, FULLY_CONNECTED, AVERAGE_POOL_2D, GELU = 3, 4, 0, 40, 9, 1, 150
OPT_CONV, OPT_DW, OPT_POOL, OPT_FC, OPT_ADD, OPT_REDUCER = 1, 2, 5, 8, 11, 27
RELU6 = 3
SAME, VALID = 0, 1


def pattern(n, seed):
    """Deterministic bytes standing for weights."""
    return bytes(((i * 7 + seed * 13 + 3) & 0xFF) for i in range(n))


def base_model():
    """The valid tiny model as plain data; cases edit a deep copy."""
    pc4 = [0.01, 0.02, 0.03, 0.04]
    t = [
        dict(name="input", shape=[1, 8, 8, 3], type=INT8, buffer=0, q=dict(scale=[1 / 127.5], zp=[0])),
        dict(name="conv.weight", shape=[4, 3, 3, 3], type=INT8, buffer=1, q=dict(scale=pc4, zp=[0] * 4, qdim=0)),
        dict(name="conv.bias", shape=[4], type=INT32, buffer=2, q=dict(scale=[s / 127.5 for s in pc4], zp=[0] * 4)),
        dict(name="conv.out", shape=[1, 4, 4, 4], type=INT8, buffer=0, q=dict(scale=[0.05], zp=[-128])),
        dict(name="dw.weight", shape=[1, 3, 3, 4], type=INT8, buffer=3, q=dict(scale=pc4, zp=[0] * 4, qdim=3)),
        dict(name="dw.bias", shape=[4], type=INT32, buffer=4, q=dict(scale=[s * 0.05 for s in pc4], zp=[0] * 4)),
        dict(name="dw.out", shape=[1, 4, 4, 4], type=INT8, buffer=0, q=dict(scale=[0.04], zp=[-128])),
        dict(name="add.out", shape=[1, 4, 4, 4], type=INT8, buffer=0, q=dict(scale=[0.07], zp=[-3])),
        dict(name="mean.axes", shape=[2], type=INT32, buffer=5),
        dict(name="pool.out", shape=[1, 4], type=INT8, buffer=0, q=dict(scale=[0.06], zp=[-2])),
        dict(name="fc.weight", shape=[2, 4], type=INT8, buffer=6, q=dict(scale=[0.5, 0.25], zp=[0, 0], qdim=0)),
        dict(name="fc.bias", shape=[2], type=INT32, buffer=7, q=dict(scale=[0.03, 0.015], zp=[0, 0])),
        dict(name="logits", shape=[1, 2], type=INT8, buffer=0, q=dict(scale=[0.1], zp=[5])),
    ]
    buffers = [dict(data=b"")]
    buffers.append(dict(data=pattern(4 * 27, 1)))
    buffers.append(dict(data=struct.pack("<4i", 100, -200, 300, -400)))
    buffers.append(dict(data=pattern(36, 3)))
    buffers.append(dict(data=struct.pack("<4i", 1, 2, 3, 4)))
    buffers.append(dict(data=struct.pack("<2i", 1, 2)))
    buffers.append(dict(data=pattern(8, 6)))
    buffers.append(dict(data=struct.pack("<2i", -7, 7)))
    # Opcodes: CONV_2D in the old style (only the byte field), the rest in the new style (both).
    opcodes = [
        dict(dep=CONV_2D, version=3),
        dict(dep=DEPTHWISE_CONV_2D, code=DEPTHWISE_CONV_2D, version=2),
        dict(dep=ADD, code=ADD),
        dict(dep=MEAN, code=MEAN, version=2),
        dict(dep=FULLY_CONNECTED, code=FULLY_CONNECTED, version=4),
    ]
    ops = [
        dict(opcode=0, inputs=[0, 1, 2], outputs=[3], opt_type=OPT_CONV,
             opt=[("b", 0, SAME), ("i", 1, 2), ("i", 2, 2), ("b", 3, RELU6), ("i", 4, 1), ("i", 5, 1)]),
        dict(opcode=1, inputs=[3, 4, 5], outputs=[6], opt_type=OPT_DW,
             opt=[("b", 0, SAME), ("i", 1, 1), ("i", 2, 1), ("i", 3, 1), ("b", 4, RELU6)]),
        dict(opcode=2, inputs=[3, 6], outputs=[7], opt_type=OPT_ADD, opt=[("b", 0, 0)]),
        dict(opcode=3, inputs=[7, 8], outputs=[9], opt_type=OPT_REDUCER, opt=[("b", 0, 0)]),
        dict(opcode=4, inputs=[9, 10, 11], outputs=[12], opt_type=OPT_FC, opt=[("b", 0, 0), ("b", 1, 0)]),
    ]
    return dict(version=3, description="gen_bad_tflite tiny model", opcodes=opcodes,
                subgraphs=[dict(tensors=t, inputs=[0], outputs=[12], ops=ops, name="main")],
                buffers=buffers, tail=b"")


class Built:
    """Serialized model plus the absolute position of named objects, for byte patches."""

    def __init__(self):
        self.marks = {}


def _vec_i32(b, vals):
    b.StartVector(4, len(vals), 4)
    for v in reversed(vals):
        b.PrependInt32(v)
    return b.EndVector()


def _vec_f32(b, vals):
    b.StartVector(4, len(vals), 4)
    for v in reversed(vals):
        b.PrependFloat32(v)
    return b.EndVector()


def _vec_i64(b, vals):
    b.StartVector(8, len(vals), 8)
    for v in reversed(vals):
        b.PrependInt64(v)
    return b.EndVector()


def _vec_off(b, offs):
    b.StartVector(4, len(offs), 4)
    for o in reversed(offs):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def build(m):
    """Serializes the model description m; returns (bytes, marks {name: builder offset})."""
    b = flatbuffers.Builder(4096)
    b.ForceDefaults(True)  # a field is present exactly when the description gives it
    marks = {}
    sg_offs = []
    for sg in m["subgraphs"]:
        t_offs = []
        for i, t in enumerate(sg["tensors"]):
            name = b.CreateString(t["name"]) if t.get("name") is not None else None
            marks["tensor%d.name" % i] = name
            shape = _vec_i32(b, t["shape"])
            marks["tensor%d.shape" % i] = shape
            q_off = None
            if "q" in t:
                q = t["q"]
                sc = _vec_f32(b, q["scale"]) if q.get("scale") is not None else None
                zp = _vec_i64(b, q["zp"]) if q.get("zp") is not None else None
                det = None
                if q.get("details"):
                    b.StartObject(1)
                    det = b.EndObject()
                b.StartObject(7)
                if sc is not None:
                    b.PrependUOffsetTRelativeSlot(2, sc, 0)
                if zp is not None:
                    b.PrependUOffsetTRelativeSlot(3, zp, 0)
                if det is not None:
                    b.PrependUint8Slot(4, q["details"], 0)
                    b.PrependUOffsetTRelativeSlot(5, det, 0)
                b.PrependInt32Slot(6, q.get("qdim", 0), 0)
                q_off = b.EndObject()
            sp = None
            if t.get("sparse"):
                b.StartObject(3)
                sp = b.EndObject()
            b.StartObject(11)
            b.PrependUOffsetTRelativeSlot(0, shape, 0)
            b.PrependInt8Slot(1, t["type"], 0)
            b.PrependUint32Slot(2, t["buffer"], 0)
            if name is not None:
                b.PrependUOffsetTRelativeSlot(3, name, 0)
            if q_off is not None:
                b.PrependUOffsetTRelativeSlot(4, q_off, 0)
            if sp is not None:
                b.PrependUOffsetTRelativeSlot(6, sp, 0)
            if t.get("external"):
                b.PrependUint32Slot(10, t["external"], 0)
            t_offs.append(b.EndObject())
            marks["tensor%d" % i] = t_offs[-1]
        for dup in range(sg.get("dup_tensors", 0)):  # share one table many times
            t_offs.append(t_offs[0])
        tensors = _vec_off(b, t_offs)
        op_offs = []
        for i, op in enumerate(sg["ops"]):
            ins = _vec_i32(b, op["inputs"])
            outs = _vec_i32(b, op["outputs"])
            marks["op%d.inputs" % i] = ins
            opt = None
            if op.get("opt") is not None:
                nslots = 1 + max([s for _, s, _ in op["opt"]] or [0])
                b.StartObject(nslots)
                for kind, slot, val in op["opt"]:
                    if kind == "b":
                        b.PrependInt8Slot(slot, val, 0)
                    else:
                        b.PrependInt32Slot(slot, val, 0)
                opt = b.EndObject()
            b.StartObject(14)
            b.PrependUint32Slot(0, op["opcode"], 0)
            b.PrependUOffsetTRelativeSlot(1, ins, 0)
            b.PrependUOffsetTRelativeSlot(2, outs, 0)
            if op.get("opt_type"):
                b.PrependUint8Slot(3, op["opt_type"], 0)
            if opt is not None:
                b.PrependUOffsetTRelativeSlot(4, opt, 0)
            op_offs.append(b.EndObject())
            marks["op%d" % i] = op_offs[-1]
        for dup in range(sg.get("dup_ops", 0)):
            op_offs.append(op_offs[-1])
        ops = _vec_off(b, op_offs)
        ins = _vec_i32(b, sg["inputs"])
        outs = _vec_i32(b, sg["outputs"])
        name = b.CreateString(sg["name"])
        b.StartObject(6)
        b.PrependUOffsetTRelativeSlot(0, tensors, 0)
        b.PrependUOffsetTRelativeSlot(1, ins, 0)
        b.PrependUOffsetTRelativeSlot(2, outs, 0)
        b.PrependUOffsetTRelativeSlot(3, ops, 0)
        b.PrependUOffsetTRelativeSlot(4, name, 0)
        sg_offs.append(b.EndObject())
    subgraphs = _vec_off(b, sg_offs)

    oc_offs = []
    for i, oc in enumerate(m["opcodes"]):
        b.StartObject(4)
        if "dep" in oc:
            b.PrependInt8Slot(0, oc["dep"], 0)
        if "version" in oc:
            b.PrependInt32Slot(2, oc["version"], 0)
        if "code" in oc:
            b.PrependInt32Slot(3, oc["code"], 0)
        oc_offs.append(b.EndObject())
    opcodes = _vec_off(b, oc_offs)

    buf_offs = []
    for i, bf in enumerate(m["buffers"]):
        data = None
        if bf.get("data"):
            data = b.CreateByteVector(bf["data"])
        b.StartObject(3)
        if data is not None:
            b.PrependUOffsetTRelativeSlot(0, data, 0)
        if "offset" in bf:
            b.PrependUint64Slot(1, bf["offset"], 0)
            b.PrependUint64Slot(2, bf["size"], 0)
        buf_offs.append(b.EndObject())
        marks["buffer%d" % i] = buf_offs[-1]
    buffers = _vec_off(b, buf_offs)
    desc = b.CreateString(m["description"])
    marks["description"] = desc

    b.StartObject(10)
    b.PrependUint32Slot(0, m["version"], 0)
    b.PrependUOffsetTRelativeSlot(1, opcodes, 0)
    b.PrependUOffsetTRelativeSlot(2, subgraphs, 0)
    b.PrependUOffsetTRelativeSlot(3, desc, 0)
    b.PrependUOffsetTRelativeSlot(4, buffers, 0)
    root = b.EndObject()
    marks["model"] = root
    b.Finish(root, file_identifier=b"TFL3")
    out = bytes(b.Output())
    size = len(out)
    pos = {k: size - v for k, v in marks.items() if v is not None}
    return bytearray(out), pos


def u32(buf, pos):
    return struct.unpack_from("<I", buf, pos)[0]


def vtable_of(buf, table_pos):
    return table_pos - struct.unpack_from("<i", buf, table_pos)[0]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_bad_tflite.py OUTDIR")
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    cases = []

    def emit(name, data, status, substring):
        with open(os.path.join(out_dir, name + ".tflite"), "wb") as f:
            f.write(bytes(data))
        cases.append("%s.tflite %d %s" % (name, status, substring or "-"))

    def model_case(name, status, substring, edit):
        m = base_model()
        edit(m)
        data, _ = build(m)
        emit(name, data, status, substring)

    def byte_case(name, status, substring, patch, edit=None):
        m = base_model()
        if edit:
            edit(m)
        data, pos = build(m)
        patch(data, pos)
        emit(name, data, status, substring)

    sg = lambda m: m["subgraphs"][0]
    T = lambda m, i: sg(m)["tensors"][i]
    OP = lambda m, i: sg(m)["ops"][i]

    # ---- valid models ----
    model_case("ok_tiny", 0, None, lambda m: None)

    def defaults(m):
        OP(m, 0)["opt"] = [("b", 0, VALID), ("i", 1, 1), ("i", 2, 1)]  # no activation, no dilations
        OP(m, 4)["opt"] = None  # FC options absent
        OP(m, 4)["opt_type"] = 0
        m["opcodes"][2] = dict()  # ADD with every field at its default (code 0, version 1)
    model_case("ok_defaults", 0, None, defaults)

    def ext_buffer(m):
        # Weights of conv.weight stored after the flatbuffer (Buffer.offset/size), as the
        # large-model extension does; the offset is patched once the size is known.
        m["buffers"][1] = dict(offset=0xABCDEF, size=4 * 27)
    data, pos = build((lambda m: (ext_buffer(m), m)[1])(base_model()))
    blob = pattern(4 * 27, 1)
    off = (len(data) + 15) & ~15
    data += b"\0" * (off - len(data)) + blob
    # patch the u64 field holding 0xABCDEF
    i = bytes(data).find(struct.pack("<Q", 0xABCDEF))
    struct.pack_into("<Q", data, i, off)
    emit("ok_buffer_offset", data, 0, None)

    def rank1_bias(m):
        T(m, 2)["q"]["qdim"] = 3  # person_detect-style: per-channel bias on axis 3 of a rank-1 tensor
    model_case("ok_rank1_bias_axis3", 0, None, rank1_bias)

    def extended_opcode(m):
        m["opcodes"].append(dict(dep=127, code=GELU, version=1))
        sg(m)["ops"].append(dict(opcode=5, inputs=[12], outputs=[12]))
    model_case("ok_extended_opcode", 0, None, extended_opcode)

    # ---- whole-file damage ----
    emit("bad_empty", b"", -1, "too short")
    emit("bad_short", b"\x08\0\0\0TFL", -1, "too short")
    good, _ = build(base_model())
    emit("bad_identifier", good[:4] + b"PK\x03\x04" + good[8:], -1, "identifier")
    d = bytearray(good); struct.pack_into("<I", d, 0, len(d) + 100); emit("bad_root_offset", d, -1, "Model")
    d = bytearray(good); struct.pack_into("<I", d, 0, 0); emit("bad_root_zero", d, -1, "Model")
    emit("bad_truncated_half", good[: len(good) // 2], -1, "-")
    model_case("bad_schema_version", -2, "schema version 2", lambda m: m.update(version=2))
    model_case("bad_no_subgraph", -1, "no subgraph", lambda m: m.update(subgraphs=[]))

    # ---- table/vtable/vector/string damage ----
    def vt_outside(d, p):
        struct.pack_into("<i", d, p["tensor1"], -len(d) * 2)
    byte_case("bad_vtable_outside", -1, "tensor 1: vtable", vt_outside)

    def vt_odd(d, p):
        vt = vtable_of(d, p["tensor1"])
        struct.pack_into("<H", d, vt, 7)
    byte_case("bad_vtable_odd_size", -1, "vtable", vt_odd)

    def table_size(d, p):
        vt = vtable_of(d, p["model"])
        struct.pack_into("<H", d, vt + 2, 0xFFF0)
        struct.pack_into("<H", d, vt, 4)  # no fields: only the size claim is wrong
    byte_case("bad_table_size", -1, "claims", table_size)

    def field_outside(d, p):
        vt = vtable_of(d, p["model"])
        tsize = struct.unpack_from("<H", d, vt + 2)[0]
        struct.pack_into("<H", d, vt + 4 + 2 * 2, tsize - 2)  # subgraphs field straddles the end
    byte_case("bad_field_outside_table", -1, "outside its table", field_outside)

    def shape_len(d, p):
        struct.pack_into("<I", d, p["tensor3.shape"], 0x3FFFFFFF)
    byte_case("bad_vector_length", -1, "vector 'shape'", shape_len)

    def name_nul(d, p):
        n = u32(d, p["tensor3.name"])
        d[p["tensor3.name"] + 4 + n] = ord("X")
    byte_case("bad_string_unterminated", -1, "not NUL-terminated", name_nul)

    def name_len(d, p):
        struct.pack_into("<I", d, p["description"], 0xFFFFFF00)
    byte_case("bad_string_length", -1, "description", name_len)

    def off_zero(d, p):
        # the uoffset of the op 2 inputs field -> 0
        op = p["op2"]
        vt = vtable_of(d, op)
        fo = struct.unpack_from("<H", d, vt + 4 + 2 * 1)[0]
        struct.pack_into("<I", d, op + fo, 0)
    byte_case("bad_uoffset_zero", -1, "operator 2 (ADD): 'inputs'", off_zero)

    # ---- tensors ----
    model_case("bad_rank7", -2, "rank 7", lambda m: T(m, 3).update(shape=[1, 1, 1, 4, 4, 4, 1]))
    model_case("bad_negative_dim", -1, "'conv.out': dimension 1 is negative",
               lambda m: T(m, 3).update(shape=[1, -4, 4, 4]))
    model_case("bad_tensor_type", -1, "unknown tensor type 99", lambda m: T(m, 3).update(type=99))
    model_case("bad_buffer_index", -1, "buffer index 42", lambda m: T(m, 1).update(buffer=42))
    model_case("bad_data_size", -1, "'conv.weight': buffer 1 holds 100 bytes",
               lambda m: m["buffers"][1].update(data=pattern(100, 1)))
    model_case("bad_data_type_size", -1, "'conv.bias': buffer 2 holds 16 bytes",
               lambda m: T(m, 2).update(type=4))  # INT64 needs 32
    model_case("bad_string_data", -2, "type STRING", lambda m: T(m, 8).update(type=5))
    model_case("bad_sentinel", -1, "buffer 0 must be the empty sentinel",
               lambda m: m["buffers"][0].update(data=b"\1\2"))
    model_case("bad_buffer_offset_outside", -1, "outside the",
               lambda m: m["buffers"][1].update(data=b"", offset=1 << 40, size=108))
    model_case("bad_buffer_offset_and_data", -1, "both embedded data and an offset",
               lambda m: m["buffers"][1].update(offset=64, size=108))
    model_case("bad_sparse", -2, "sparse", lambda m: T(m, 1).update(sparse=True))
    model_case("bad_external_buffer", -2, "external buffer 3", lambda m: T(m, 1).update(external=3))

    # ---- quantization ----
    model_case("bad_quant_count", -1, "3 per-channel scales but dimension 0 has size 4",
               lambda m: T(m, 1)["q"].update(scale=[0.1, 0.2, 0.3], zp=[0, 0, 0]))
    model_case("bad_quant_zp_count", -1, "4 scales but 2 zero points",
               lambda m: T(m, 1)["q"].update(zp=[0, 0]))
    model_case("bad_quant_no_zp", -1, "4 scales but 0 zero points",
               lambda m: T(m, 1)["q"].update(zp=None))
    model_case("bad_quant_axis", -1, "quantized_dimension 5 is outside rank 4",
               lambda m: T(m, 1)["q"].update(qdim=5))
    model_case("bad_quant_nan", -1, "not a finite", lambda m: T(m, 3)["q"].update(scale=[float("nan")]))
    model_case("bad_quant_negative", -1, "not a finite", lambda m: T(m, 3)["q"].update(scale=[-0.5]))
    model_case("bad_quant_details", -2, "quantization details", lambda m: T(m, 3)["q"].update(details=1))

    # ---- operators ----
    model_case("bad_opcode_index", -1, "operator 1: opcode index 9", lambda m: OP(m, 1).update(opcode=9))
    model_case("bad_op_input", -1, "operator 2 (ADD): input 1 refers to tensor 99",
               lambda m: OP(m, 2).update(inputs=[3, 99]))
    model_case("bad_op_input_minus2", -1, "input 0 refers to tensor -2",
               lambda m: OP(m, 2).update(inputs=[-2, 6]))
    model_case("bad_op_output_optional", -1, "output 0 refers to tensor -1",
               lambda m: OP(m, 2).update(outputs=[-1]))
    model_case("bad_graph_input", -1, "subgraph 0 inputs: entry 0 refers to tensor 13",
               lambda m: sg(m).update(inputs=[13]))
    model_case("bad_graph_output", -1, "subgraph 0 outputs", lambda m: sg(m).update(outputs=[-1]))
    model_case("bad_options_type", -1, "expected Conv2DOptions", lambda m: OP(m, 0).update(opt_type=OPT_POOL))
    model_case("bad_conv_stride0", -1, "operator 0 (CONV_2D): strides 0 x 2",
               lambda m: OP(m, 0)["opt"].__setitem__(1, ("i", 1, 0)))
    model_case("bad_conv_no_options", -1, "operator 0 (CONV_2D): strides 0 x 0",
               lambda m: OP(m, 0).update(opt=None, opt_type=0))
    model_case("bad_dw_dilation0", -1, "operator 1 (DEPTHWISE_CONV_2D): dilations 0",
               lambda m: OP(m, 1)["opt"].append(("i", 5, 0)))
    model_case("bad_activation", -1, "unknown fused activation 9",
               lambda m: OP(m, 2).update(opt=[("b", 0, 9)]))
    model_case("bad_padding", -1, "padding 2", lambda m: OP(m, 0)["opt"].__setitem__(0, ("b", 0, 2)))

    def pool_filter(m):
        m["opcodes"][3] = dict(dep=AVERAGE_POOL_2D, code=AVERAGE_POOL_2D)
        OP(m, 3).update(inputs=[7], opt_type=OPT_POOL,
                        opt=[("b", 0, VALID), ("i", 1, 1), ("i", 2, 1), ("i", 3, 0), ("i", 4, 4)])
    model_case("bad_pool_filter", -1, "AVERAGE_POOL_2D): pool filter 0 x 4", pool_filter)
    model_case("bad_opcode_code", -2, "builtin code 300", lambda m: m["opcodes"][2].update(code=300))
    model_case("bad_opcode_negative", -1, "negative builtin code",
               lambda m: m["opcodes"][2].update(dep=-5, code=-5))
    model_case("bad_opcode_version", -1, "operator code 2: version 0", lambda m: m["opcodes"][2].update(version=0))

    # ---- shared tables: bounded memory ----
    def many_ops(m):
        OP(m, 2)["inputs"] = [3] * 2000
        sg(m)["ops"] = [OP(m, 2)]
        sg(m)["dup_ops"] = 20000
    model_case("bad_shared_op_tables", -1, "references more array data", many_ops)
    model_case("bad_too_many_tensors", -2, "tensors exceed the bound",
               lambda m: sg(m).update(dup_tensors=70000))

    with open(os.path.join(out_dir, "manifest.txt"), "w") as f:
        f.write("# generated by tests/data/gen_bad_tflite.py: FILE STATUS SUBSTRING (rest of line)\n")
        f.write("\n".join(cases) + "\n")


if __name__ == "__main__":
    main()
