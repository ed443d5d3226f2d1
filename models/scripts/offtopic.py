#!/usr/bin/env python3
"""How much of the general web the classifier calls migration, collective labelling or abuse.

Runs the mediawatch binary on every WCXB dev page (real pages on software, travel, shopping,
food, finance...; none about migration) the way the pipeline sees them: the page through
`mediawatch extract`, then its text through `mediawatch classify`. Prints the share labelled
relevant, collective labelling, and hate or offensive, for all pages and for the pages of the
test split alone (the training split's pages were relevance negatives in training: see
crates/classify/src/data.rs, `load_wcxb`). Standard library only.

Usage (from the repository root, after `cargo build --release`):
  python3 models/scripts/offtopic.py [--wcxb ../shared/data/extraction/wcxb-dev] [--bin target/release/mediawatch]
"""
import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile


def test_split(page_id):
    # crates/classify/src/data.rs hash_split("wcxb-<id>", 0.2, 0.4): test when h < 0.4.
    h = int(hashlib.sha256(f'wcxb-{page_id}'.encode()).hexdigest()[:8], 16) / 0xffffffff
    return h < 0.4


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--wcxb', default='../shared/data/extraction/wcxb-dev')
    ap.add_argument('--bin', default='target/release/mediawatch')
    ap.add_argument('--json', action='store_true')
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        html = os.path.join(tmp, 'html')
        os.makedirs(html)
        for name in sorted(os.listdir(os.path.join(a.wcxb, 'html'))):
            if name.endswith('.html.gz'):
                with gzip.open(os.path.join(a.wcxb, 'html', name)) as f:
                    open(os.path.join(html, name[:-3]), 'wb').write(f.read())
        out = subprocess.run([a.bin, 'extract', '--input-dir', html, '--json'], check=True,
                             capture_output=True, text=True).stdout
        pages = [json.loads(l) for l in out.splitlines() if l.strip()]
        lines = []
        for p in pages:
            if 'error' in p:
                continue
            text = p.get('text') or p.get('title') or ''
            lines.append(json.dumps({'id': p['file'].split('.')[0], 'text': text, 'lang': p.get('lang')}))
        inp = os.path.join(tmp, 'in.jsonl')
        open(inp, 'w').write('\n'.join(lines) + '\n')
        res = subprocess.run([a.bin, 'classify', '--input', inp, '--json'], check=True,
                             capture_output=True, text=True).stdout
    rows = [json.loads(l) for l in res.splitlines() if l.strip()]
    version = rows[0]['model_version'] if rows else '-'

    def shares(rs):
        n = max(1, len(rs))
        rel = sum(r['labels']['relevance']['score'] >= 0.5 for r in rs)
        col = sum(r['labels']['collective_labelling']['score'] >= 0.5 for r in rs)
        hate = sum(r['labels']['hate']['class'] != 'none' for r in rs)
        return {'pages': len(rs), 'relevant': round(rel / n, 4), 'collective': round(col / n, 4),
                'hate_or_offensive': round(hate / n, 4),
                'flagged_ids': sorted(r['id'] for r in rs if r['labels']['relevance']['score'] >= 0.5
                                      or r['labels']['collective_labelling']['score'] >= 0.5
                                      or r['labels']['hate']['class'] != 'none')}
    report = {'model_version': version, 'extraction_failures': len(pages) - len(rows),
              'all': shares(rows), 'test_split': shares([r for r in rows if test_split(r['id'])])}
    if a.json:
        print(json.dumps(report, indent=1))
    else:
        for k in ('all', 'test_split'):
            s = report[k]
            print(f"{k:>10}: {s['pages']} pages | relevant {100 * s['relevant']:.1f}% | collective "
                  f"{100 * s['collective']:.1f}% | hate or offensive {100 * s['hate_or_offensive']:.1f}% "
                  f"| flagged: {', '.join(s['flagged_ids'][:20])}")
        print(f"model {version}; pages the extractor failed on: {report['extraction_failures']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
