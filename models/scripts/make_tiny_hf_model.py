#!/usr/bin/env python3
"""Build tiny random-weight Hugging Face sequence-classification models.

They exercise the rust-bert backend of mediawatch-classify (feature
`rust-bert`) without any hub access: every model is built from a config
object, its tokenizer from a vocabulary written (BERT WordPiece) or trained
(SentencePiece, for XLM-RoBERTa) here, on a few sentences.

Each model goes to OUT/<name>/ in the layout a published fine-tuned model
has and the Rust loader reads:

    config.json               model_type, id2label, sizes
    model.safetensors         weights (names as in the HF state dict)
    vocab.txt                 BERT, DistilBERT, ELECTRA (WordPiece)
    sentencepiece.bpe.model   XLM-RoBERTa (SentencePiece unigram, as XLM-R's)
    tokenizer_config.json     do_lower_case etc.
    reference.json            texts, the token ids and logits PyTorch computed

The reference logits come from each text run alone (no padding); the Rust
tests also run the texts as one padded batch, which checks the attention
mask. Weights are drawn with a large initializer range so logits differ
clearly between texts (with the usual 0.02 every text gets nearly the same
logits and a comparison would prove little).

Usage: make_tiny_hf_model.py OUT_DIR [--only NAME ...]
Needs: torch==2.4.0 transformers==4.44.2 safetensors sentencepiece (see
.ci/torch.sh).
"""

import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import (  # noqa: E402
    BertConfig,
    BertForSequenceClassification,
    BertTokenizer,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    DistilBertTokenizer,
    ElectraConfig,
    ElectraForSequenceClassification,
    ElectraTokenizer,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
    XLMRobertaTokenizer,
)

transformers.logging.set_verbosity_error()

# Texts the reference logits are computed for: languages of the project,
# diacritics, Cyrillic (unknown to the WordPiece vocabulary), an empty text
# and one longer than the models' maximum length (truncation).
TEXTS = [
    "Migrants are dangerous and they all bring crime.",
    "Migranti su opasni, svi su isti.",
    "Izbeglice iz Sirije dobile su posao u Beogradu.",
    "Мигранти су опасни.",
    "The municipality opened a shelter; results after one year were mixed.",
    "",
    "Hate",
    " ".join(["the wave of migrants and refugees"] * 30),
]

# Sentences for the SentencePiece model (the XLM-R tokenizer is trained on
# them) and words for the WordPiece vocabulary.
CORPUS = TEXTS[:5] + [
    "Asylum seekers crossed the border near Subotica and Horgos.",
    "Azilanti su prešli granicu kod Subotice.",
    "Migranci przekroczyli granicę, a rząd zapowiedział kontrole.",
    "Die Flüchtlinge wurden in Notunterkünften untergebracht.",
    "Мигранти и избеглице чекају на граници.",
    "A local school welcomed refugee children, and teachers report progress.",
    "These people are not welcome here, said the mayor.",
    "Novinari su razgovarali sa porodicom iz Avganistana.",
]

WORDS = """the a and of in to are is they all bring crime migrants migrant refugees
refugee wave dangerous municipality opened shelter results after one year were mixed
hate border asylum seekers school children people not welcome here said mayor
migranti su opasni svi isti izbeglice iz sirije dobile posao u beogradu""".split()


def write_wordpiece_vocab(path):
    """A WordPiece vocabulary: specials, whole words, then single letters
    with and without the ## continuation prefix, so every Latin word
    tokenizes without [UNK] (Cyrillic stays unknown on purpose)."""
    letters = sorted(set("abcdefghijklmnopqrstuvwxyz0123456789.,;:!?'\"-()" + "čćšžđ"))
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens += sorted(set(WORDS))
    tokens += letters
    tokens += ["##" + c for c in letters if c.isalnum()]
    seen = set()
    with open(path, "w", encoding="utf-8") as f:
        for t in tokens:
            if t not in seen:
                seen.add(t)
                f.write(t + "\n")
    return len(seen)


def train_sentencepiece(prefix):
    """A small unigram SentencePiece model, the model type XLM-R ships as
    sentencepiece.bpe.model (ids: <unk>=0, <s>=1, </s>=2, as XLM-R's)."""
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 4),
        model_prefix=prefix,
        vocab_size=160,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return prefix + ".model"


def reference(model, tokenizer, max_length):
    """Token ids and logits for each text, run one at a time (no padding)."""
    model.eval()
    ids_all, logits_all = [], []
    with torch.no_grad():
        for text in TEXTS:
            enc = tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt")
            kwargs = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
            out = model(**kwargs)
            ids_all.append(enc["input_ids"][0].tolist())
            logits_all.append([float(x) for x in out.logits[0]])
    return {
        "texts": TEXTS,
        "input_ids": ids_all,
        "logits": logits_all,
        "id2label": {str(k): v for k, v in model.config.id2label.items()},
        "max_length": max_length,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def init_weights(model, seed):
    """Re-draw every parameter: N(0, 0.3) for matrices, small noise for biases
    and LayerNorm, so that outputs depend strongly on the input."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                if name.endswith("weight"):
                    p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif p.dim() >= 2:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))


def save(model, tokenizer, out, max_length, safe=True):
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out, safe_serialization=safe)
    tokenizer.save_pretrained(out)
    ref = reference(model, tokenizer, max_length)
    with open(os.path.join(out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False, indent=1)


COMMON = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
)


def make_bert(out, tmp):
    vocab = os.path.join(tmp, "bert-vocab.txt")
    n = write_wordpiece_vocab(vocab)
    tok = BertTokenizer(vocab, do_lower_case=True, clean_up_tokenization_spaces=False)
    cfg = BertConfig(
        vocab_size=n,
        max_position_embeddings=64,
        type_vocab_size=2,
        id2label={0: "NOT", 1: "OFFENSIVE", 2: "HATE"},
        label2id={"NOT": 0, "OFFENSIVE": 1, "HATE": 2},
        **COMMON,
    )
    torch.manual_seed(1)
    model = BertForSequenceClassification(cfg)
    init_weights(model, 11)
    save(model, tok, out, 64)


def make_xlmr(out, tmp):
    spm_path = train_sentencepiece(os.path.join(tmp, "xlmr-spm"))
    tok = XLMRobertaTokenizer(spm_path, clean_up_tokenization_spaces=False)
    cfg = XLMRobertaConfig(
        vocab_size=len(tok),
        # XLM-R positions start after the padding index (1): 66 positions
        # hold 64 tokens.
        max_position_embeddings=66,
        type_vocab_size=1,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        id2label={0: "non-hate", 1: "hate"},
        label2id={"non-hate": 0, "hate": 1},
        **COMMON,
    )
    torch.manual_seed(2)
    model = XLMRobertaForSequenceClassification(cfg)
    init_weights(model, 12)
    save(model, tok, out, 64)


def make_distilbert(out, tmp, safe=True):
    vocab = os.path.join(tmp, "distil-vocab.txt")
    n = write_wordpiece_vocab(vocab)
    tok = DistilBertTokenizer(vocab, do_lower_case=True, clean_up_tokenization_spaces=False)
    cfg = DistilBertConfig(
        vocab_size=n,
        max_position_embeddings=64,
        dim=32,
        n_layers=2,
        n_heads=4,
        hidden_dim=64,
        # transformers leaves the default LABEL_0 / LABEL_1 out of config.json,
        # and rust-bert needs id2label: name them.
        id2label={0: "normal", 1: "abusive"},
        label2id={"normal": 0, "abusive": 1},
    )
    torch.manual_seed(3)
    model = DistilBertForSequenceClassification(cfg)
    init_weights(model, 13)
    save(model, tok, out, 64, safe=safe)
    # rust-bert 0.23's DistilBertConfig requires `tie_weights_`, which
    # configs written by transformers 4.x no longer have (see the report).
    path = os.path.join(out, "config.json")
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg.setdefault("tie_weights_", True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)


def make_electra(out, tmp):
    vocab = os.path.join(tmp, "electra-vocab.txt")
    n = write_wordpiece_vocab(vocab)
    # A cased tokenizer, as BERTić (the BCMS ELECTRA) uses.
    tok = ElectraTokenizer(vocab, do_lower_case=False, clean_up_tokenization_spaces=False)
    cfg = ElectraConfig(
        vocab_size=n,
        embedding_size=16,  # != hidden_size: exercises embeddings_project
        max_position_embeddings=64,
        type_vocab_size=2,
        id2label={0: "ACC", 1: "OFF"},
        label2id={"ACC": 0, "OFF": 1},
        **COMMON,
    )
    torch.manual_seed(4)
    model = ElectraForSequenceClassification(cfg)
    init_weights(model, 14)
    save(model, tok, out, 64)


MODELS = {
    "tiny-bert-hate": make_bert,
    "tiny-xlmr-hate": make_xlmr,
    "tiny-distilbert": make_distilbert,
    # The same DistilBERT with weights as pytorch_model.bin (pickle).
    "tiny-distilbert-bin": lambda out, tmp: make_distilbert(out, tmp, safe=False),
    "tiny-electra": make_electra,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", help="output directory (one subdirectory per model)")
    ap.add_argument("--only", nargs="*", choices=sorted(MODELS), help="models to build")
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    tmp = os.path.join(args.out, ".work")
    os.makedirs(tmp, exist_ok=True)
    for name in args.only or list(MODELS):
        MODELS[name](os.path.join(args.out, name), tmp)
        print(f"wrote {os.path.join(args.out, name)}", file=sys.stderr)
    # Written last: its presence means every model above is complete.
    with open(os.path.join(args.out, "DONE"), "w", encoding="utf-8") as f:
        f.write("\n".join(args.only or list(MODELS)) + "\n")


if __name__ == "__main__":
    main()
