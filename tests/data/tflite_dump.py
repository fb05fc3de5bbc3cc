#!/usr/bin/python3
"""Dumps subgraph 0 of a .tflite model as JSON through flatc-generated Python code.

Usage: tflite_dump.py GEN_DIR MODEL.tflite

GEN_DIR holds the package `tflite` that `flatc --python` generates from ../shared/tflite/schema.fbs
at build time (mk/tflite.mk). This is an independent reading of the same file: the cmocka suite
(tests/test_tflite_reader.c, test_python_crosscheck) compares it field by field with what the
hand-written C reader returns. Prints one JSON object on stdout.
"""
import json
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: tflite_dump.py GEN_DIR MODEL.tflite")
    sys.path.insert(0, sys.argv[1])
    from tflite.Model import Model
    from tflite.Conv2DOptions import Conv2DOptions
    from tflite.DepthwiseConv2DOptions import DepthwiseConv2DOptions
    from tflite.Pool2DOptions import Pool2DOptions
    from tflite.FullyConnectedOptions import FullyConnectedOptions
    from tflite.AddOptions import AddOptions
    from tflite.ReducerOptions import ReducerOptions

    buf = open(sys.argv[2], "rb").read()
    model = Model.GetRootAs(buf, 0)
    sg = model.Subgraphs(0)
    out = dict(version=model.Version(), description=(model.Description() or b"").decode("utf-8", "replace"),
               n_subgraphs=model.SubgraphsLength(), inputs=[int(x) for x in sg.InputsAsNumpy()],
               outputs=[int(x) for x in sg.OutputsAsNumpy()], tensors=[], ops=[])
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        b = model.Buffers(t.Buffer())
        data_len = int(b.Size()) if b.Offset() > 1 else b.DataLength()
        q = t.Quantization()
        scale, zp, qdim = [], [], 0
        if q is not None and q.ScaleLength() > 0:
            scale = [float(s) for s in q.ScaleAsNumpy()]
            zp = [int(z) for z in q.ZeroPointAsNumpy()]
            qdim = q.QuantizedDimension()
        out["tensors"].append(dict(
            name=(t.Name() or b"").decode("utf-8", "replace"), type=t.Type(),
            shape=[int(x) for x in t.ShapeAsNumpy()] if t.ShapeLength() else [],
            buffer=t.Buffer(), data_len=data_len if t.Buffer() else 0,
            scale=scale, zero_point=zp, qdim=qdim))
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        oc = model.OperatorCodes(op.OpcodeIndex())
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        d = dict(code=code, version=oc.Version(),
                 inputs=[int(x) for x in op.InputsAsNumpy()] if op.InputsLength() else [],
                 outputs=[int(x) for x in op.OutputsAsNumpy()] if op.OutputsLength() else [],
                 options_type=op.BuiltinOptionsType(), options={})
        tab = op.BuiltinOptions()
        kind = {1: Conv2DOptions, 2: DepthwiseConv2DOptions, 5: Pool2DOptions, 8: FullyConnectedOptions,
                11: AddOptions, 27: ReducerOptions}.get(op.BuiltinOptionsType())
        if tab is not None and kind is not None:
            o = kind()
            o.Init(tab.Bytes, tab.Pos)
            get = lambda name: getattr(o, name)() if hasattr(o, name) else None
            fields = dict(padding="Padding", stride_w="StrideW", stride_h="StrideH",
                          fused_activation="FusedActivationFunction", dilation_w="DilationWFactor",
                          dilation_h="DilationHFactor", depth_multiplier="DepthMultiplier",
                          filter_w="FilterWidth", filter_h="FilterHeight", keep_dims="KeepDims",
                          weights_format="WeightsFormat", keep_num_dims="KeepNumDims")
            for key, name in fields.items():
                v = get(name)
                if v is not None:
                    d["options"][key] = int(v)
        out["ops"].append(d)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
