#!/usr/bin/env python3
"""Checks the files written for mediawatch under models/data/{comments,news,toxicity,functional,identity}.

Usage: check_data.py [FILE ...]   (default: every such file)

Prints, per file, the row count and the label counts per split, and every problem found
(bad JSON, a missing or unknown key, a value outside its set, a duplicate id or text, a template
split across train and eval). Exits 1 when any problem is found. Standard library only.
"""
import collections
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
SETS = {"comments": "c", "news": "n", "toxicity": "t", "functional": "f", "identity": "i"}
LANGS = "en sr hr bs cnr mk sq sl pl hu cs sk bg el de it".split()
KEYS = ["id", "lang", "script", "kind", "context", "text", "hate", "target", "relevant",
        "collective", "threat", "victim", "recognition", "solutions", "hard_case", "topic",
        "lookalike", "functionality", "template", "split"]
TARGETS = {"migrants_refugees", "ethnic_national", "religious", "roma", "lgbt", "women",
           "disability", "other"}
HARD = {"counter_speech", "negation", "quoted_hate_condemned", "policy_no_generalisation",
        "non_migration_metaphor", "individual_story", "irony", "harsh_but_civil",
        "profanity_not_abuse", "reclaimed_or_homonym"}
FUNCS = {
    "derog_neg_emote_h", "derog_neg_attrib_h", "derog_dehum_h", "derog_impl_h", "threat_dir_h",
    "threat_norm_h", "slur_h", "slur_homonym_nh", "slur_reclaimed_nh", "profanity_h",
    "profanity_nh", "ref_subs_clause_h", "ref_subs_sent_h", "negate_pos_h", "negate_neg_nh",
    "phrase_question_h", "phrase_opinion_h", "ident_neutral_nh", "ident_pos_nh",
    "counter_quote_nh", "counter_ref_nh", "target_obj_nh", "target_indiv_nh", "target_group_nh",
    "spell_char_swap_h", "spell_char_del_h", "spell_space_del_h", "spell_space_add_h",
    "spell_leet_h",
}


def check(path, seen_ids, problems):
    kind_dir = os.path.basename(os.path.dirname(path))
    letter = SETS.get(kind_dir)
    lang_file = os.path.splitext(os.path.basename(path))[0]
    counts = collections.Counter()
    texts = set()
    template_split = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            where = f"{path}:{n}"
            if not line.strip():
                problems.append(f"{where}: empty line")
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append(f"{where}: bad JSON: {e}")
                continue
            if list(d.keys()) != KEYS:
                missing = [k for k in KEYS if k not in d]
                extra = [k for k in d if k not in KEYS]
                if missing or extra:
                    problems.append(f"{where}: missing keys {missing}, unknown keys {extra}")
                    continue
            p = lambda msg: problems.append(f"{where} ({d.get('id')}): {msg}")
            if d["id"] in seen_ids:
                p("duplicate id")
            seen_ids.add(d["id"])
            if letter and not d["id"].startswith(f"{d['lang']}-{letter}-"):
                p(f"id should start with {d['lang']}-{letter}-")
            if d["lang"] not in LANGS:
                p(f"unknown lang {d['lang']}")
            if lang_file in LANGS and d["lang"] != lang_file and not (lang_file == "hr" and d["lang"] in ("bs", "cnr")):
                p(f"lang {d['lang']} in {lang_file}.jsonl")
            if d["script"] not in ("latn", "cyrl", "grek"):
                p(f"bad script {d['script']}")
            if d["kind"] not in ("comment", "reply", "post", "article"):
                p(f"bad kind {d['kind']}")
            if d["kind"] in ("comment", "reply") and not d["context"]:
                p("comment without context")
            if d["kind"] in ("post", "article") and d["context"] is not None:
                p("post/article with a context")
            if not isinstance(d["text"], str) or not d["text"].strip():
                p("empty text")
            elif d["text"] in texts:
                p("duplicate text in this file")
            texts.add(d["text"])
            if d["hate"] not in ("hate", "offensive", "none"):
                p(f"bad hate {d['hate']}")
            if (d["hate"] == "none") != (d["target"] is None):
                p("target must be null exactly when hate is none")
            if d["target"] is not None and d["target"] not in TARGETS:
                p(f"bad target {d['target']}")
            for k in ("relevant", "collective", "threat", "victim", "recognition", "solutions"):
                if d[k] not in (0, 1):
                    p(f"{k} must be 0 or 1")
            if d["relevant"] == 0 and any(d[k] for k in ("collective", "threat", "victim", "recognition", "solutions")):
                p("a frame or collective on an irrelevant text")
            if d["hard_case"] is not None and d["hard_case"] not in HARD:
                p(f"bad hard_case {d['hard_case']}")
            if d["split"] not in ("train", "eval"):
                p(f"bad split {d['split']}")
            if kind_dir == "functional":
                if d["functionality"] not in FUNCS:
                    p(f"bad functionality {d['functionality']}")
                else:
                    hateful = d["functionality"].endswith("_h")
                    if hateful != (d["hate"] == "hate"):
                        p(f"{d['functionality']} needs hate={'hate' if hateful else 'none/offensive'}")
                if not d["template"]:
                    p("functional case without template")
                else:
                    t = template_split.setdefault(d["template"], d["split"])
                    if t != d["split"]:
                        p(f"template {d['template']} is in both splits")
            elif d["functionality"] is not None or d["template"] is not None:
                p("functionality/template only in functional/")
            counts[(d["split"], d["hate"])] += 1
            counts[(d["split"], "relevant")] += d["relevant"]
            counts[(d["split"], "collective")] += d["collective"]
            counts[(d["split"], "rows")] += 1
    return counts


def main():
    files = sys.argv[1:] or sorted(
        p for s in SETS for p in glob.glob(os.path.join(DATA, s, "*.jsonl")))
    problems = []
    seen = set()
    for path in files:
        c = check(path, seen, problems)
        for split in ("train", "eval"):
            if c[(split, "rows")]:
                print(f"{os.path.relpath(path, DATA)} {split}: {c[(split, 'rows')]} rows, "
                      f"hate {c[(split, 'hate')]}, offensive {c[(split, 'offensive')]}, "
                      f"none {c[(split, 'none')]}, relevant {c[(split, 'relevant')]}, "
                      f"collective {c[(split, 'collective')]}")
    for p in problems:
        print("PROBLEM", p)
    print(f"{len(files)} files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
