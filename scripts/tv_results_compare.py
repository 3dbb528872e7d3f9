#!/usr/bin/python3
"""tv_results_compare.py — an `mrcnn infer --image` COCO results file (mask
model, RLE segmentations) against torchvision's NAME_mask_out.safetensors of
scripts/torchvision_reference.py (build/ref/): detections at the same rank
(same class, box within 0.5 px), and over each mrcnn detection paired with
the torchvision one of its class and nearest box: box and score max
differences, pasted mask IoU. The JPEG-decoder measurement of
docs/reference.md ("JPEG decoding"):

    ./mrcnn infer --config variants/configs/tv_maskrcnn_r50_fpn.json \\
        --weights build/ref/tv_full_mask_weights.safetensors \\
        --image tests/fixtures/coco/images/000000000139.jpg --out o.json --score-thresh 0.01
    /usr/bin/python3 scripts/tv_results_compare.py o.json build/ref/c139_mask_out.safetensors
"""
import json, struct, sys, numpy as np
def st(p):
    b=open(p,'rb').read(); n=struct.unpack('<Q',b[:8])[0]; h=json.loads(b[8:8+n]); o={}
    dt={'F32':np.float32,'I64':np.int64,'U8':np.uint8,'F64':np.float64,'I32':np.int32}
    for k,v in h.items():
        if k=='__metadata__': continue
        s,e=v['data_offsets']; o[k]=np.frombuffer(b[8+n+s:8+n+e],dt[v['dtype']]).reshape(v['shape'])
    return o
def rle_decode(r):
    h,w=r['size']; s=r['counts']; cnts=[]; p=0
    while p<len(s):
        x=0;k=0;more=1
        while more:
            c=ord(s[p])-48; x|=(c&0x1f)<<(5*k); more=c&0x20; p+=1; k+=1
            if not more and (c&0x10): x|=-1<<(5*k)
        if len(cnts)>2: x+=cnts[-2]
        cnts.append(x)
    m=np.zeros(h*w,np.uint8); i=0; v=0
    for c in cnts: m[i:i+c]=v; i+=c; v^=1
    return m.reshape(w,h).T
T=st(sys.argv[2]); R=json.load(open(sys.argv[1]))
tb=T['out.boxes']; tl=T['out.labels']; ts=T['out.scores']; tm=np.unpackbits(T['out.masks'],axis=-1)
H,W=tm.shape[1],tm.shape[2]
rank=0; bd=[]; ious=[]; sd=[]
for i,r in enumerate(R):
    x,y,w,h=r['bbox']; b=np.array([x,y,x+w,y+h])
    if i<len(tb) and r['category_id']==int(tl[i]) and np.abs(b-tb[i]).max()<0.5: rank+=1
    # pair: same class, closest box
    c=[j for j in range(len(tb)) if int(tl[j])==r['category_id']]
    if not c: continue
    j=min(c,key=lambda j: np.abs(b-tb[j]).max()); bd.append(np.abs(b-tb[j]).max()); sd.append(abs(r['score']-ts[j]))
    m=rle_decode(r['segmentation']); t=tm[j][:, :m.shape[1]]
    u=(m|t).sum(); ious.append((m&t).sum()/u if u else 1.0)
print("%s: mrcnn %d tv %d; same rank %d; box max diff %.3g px; score max diff %.3g; mask IoU min %.4f, <0.99: %d, <1: %d" % (sys.argv[1].split('/')[-1], len(R), len(tb), rank, max(bd), max(sd), min(ious), sum(i<0.99 for i in ious), sum(i<1 for i in ious)))
