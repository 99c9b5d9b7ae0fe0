"""The corpus cleaners on small hand-written inputs (no network, no cache)."""

from __future__ import annotations

import pytest

from model.training.data import (
    Document,
    clean_address,
    clean_dict_entry,
    clean_wikitext,
    detokenize_brown,
    dictd_entries,
    normalise,
    parse_kjv,
    split_documents,
    wordnet_examples,
)


def test_brown_tags_are_stripped_and_spacing_restored():
    line = ("The/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' was/bedz found/vbn ,/, and/cc "
            "it/pps did/dod n't/* matter/vb ./.")
    assert detokenize_brown(line) == 'The jury said "no evidence" was found, and it didn\'t matter.'


def test_brown_keeps_possessives_and_parentheses():
    assert detokenize_brown("Atlanta's/np$ mayor/nn (/( Hartsfield/np )/) spoke/vbd ./.") == (
        "Atlanta's mayor (Hartsfield) spoke."
    )


def test_kjv_chapters_lose_verse_numbers_and_join_wrapped_lines():
    output = [
        "",
        "Genesis 1",
        "",
        "  1 In the beginning God created the heaven and the earth.",
        "  2 And the earth was without form, and void; and darkness was upon the face of",
        "the deep.",
        "1 John 2",
        "  1 My little children, these things write I unto you.",
    ]
    assert parse_kjv(output) == [
        ("Genesis 1", "In the beginning God created the heaven and the earth. And the earth was without "
                      "form, and void; and darkness was upon the face of the deep."),
        ("1 John 2", "My little children, these things write I unto you."),
    ]


def test_wikitext_loses_templates_refs_files_and_headings():
    wikitext = (
        "{{Infobox person|name={{nowrap|Ada Lovelace}}|born=1815}}\n"
        "'''Ada Lovelace''' was an [[England|English]] mathematician and writer, chiefly known for her work "
        "on [[Charles Babbage]]'s proposed mechanical computer.<ref>{{cite book|title=X}}</ref>\n"
        "[[File:Ada.jpg|thumb|A portrait of her]]\n"
        "== Early life ==\n"
        "* a list fragment\n"
        "She was the only legitimate child of the poet [[Lord Byron]] and his wife {{lang|en|Anne}}.\n"
        "[[Category:Mathematicians]]\n"
    )
    text = clean_wikitext(wikitext)
    assert text.splitlines() == [
        "Ada Lovelace was an English mathematician and writer, chiefly known for her work on Charles "
        "Babbage's proposed mechanical computer.",
        "She was the only legitimate child of the poet Lord Byron and his wife.",
    ]


def test_wordnet_examples_are_taken_from_glosses():
    data = (
        "  1 This software and database is provided as is\n"
        '00003553 03 n 02 whole 0 unit 0 015 @ 00002684 n 0000 | an assemblage of parts; '
        '"how big is that part compared to the whole?"; "the team is a unit"\n'
    )
    assert wordnet_examples(data) == ["How big is that part compared to the whole?", "The team is a unit"]


def test_dictd_entries_are_sliced_by_base64_offsets():
    data = b"ABSURDITY, n.  A statement inconsistent with one's own opinion.\nACADEME, n.  An old school.\n"
    # dictd writes offsets and lengths in base64 digits (A=0 … Z=25, a=26 … z=51, 0=52 … /=63):
    # the first entry is 64 bytes at offset 0 ("A", "BA"), the second 28 bytes at 64 ("BA", "c").
    index = "00databaseshort\tA\tB\nabsurdity\tA\tBA\nacademe\tBA\tc\n"
    entries = dictd_entries(index, data)
    assert entries == [
        ("absurdity", "ABSURDITY, n.  A statement inconsistent with one's own opinion.\n"),
        ("academe", "ACADEME, n.  An old school.\n"),
    ]


def test_dictionary_entries_lose_headwords_and_braces():
    devil = "ACADEMY, n.  [from {ACADEME}]   A modern school where football is\ntaught.\n"
    assert clean_dict_entry("academy", devil, "devil") == "[from ACADEME] A modern school where football is taught."
    jargon = "benchmark\n n.\n\n    [techspeak] An inaccurate measure of computer performance. See {MIPS}.\n"
    assert clean_dict_entry("benchmark", jargon, "jargon") == (
        "[techspeak] An inaccurate measure of computer performance. See MIPS."
    )


def test_normalise_straightens_quotes_and_whitespace():
    assert normalise("\u201cHi\u201d  it\u2019s\tme \n\n  again\x07") == "\"Hi\" it's me\nagain"
    assert normalise("e\u0301") == "\u00e9"


def test_split_is_deterministic_and_puts_each_document_in_exactly_one_split():
    docs = [Document(src, f"{src}-{i}", f"text {i}") for src in ("a", "b") for i in range(100)]
    first, second = split_documents(docs), split_documents(list(reversed(docs)))
    assert first == second
    ids = [d.id for split in first.values() for d in split]
    assert sorted(ids) == sorted(d.id for d in docs)
    for source in ("a", "b"):
        counts = {name: sum(d.source == source for d in split) for name, split in first.items()}
        assert counts == {"train": 90, "valid": 5, "test": 5}


@pytest.mark.parametrize("n", [1, 2])
def test_tiny_sources_go_to_training(n):
    docs = [Document("x", str(i), "t") for i in range(n)]
    assert len(split_documents(docs)["train"]) == n


def test_a_train_share_thins_only_the_training_documents():
    docs = [Document(src, f"{src}-{i}", f"text {i}") for src in ("kjv", "b") for i in range(100)]
    full, thinned = split_documents(docs), split_documents(docs, train_share={"kjv": 0.5})
    assert thinned["valid"] == full["valid"] and thinned["test"] == full["test"]
    kjv_train = [d for d in thinned["train"] if d.source == "kjv"]
    assert len(kjv_train) == 45 and set(kjv_train) <= set(full["train"])
    assert [d for d in thinned["train"] if d.source == "b"] == [d for d in full["train"] if d.source == "b"]
    assert split_documents(docs, train_share={"kjv": 0.5}) == thinned  # seeded


def test_addresses_lose_stage_notes_headings_and_salutations():
    raw = (
        "[As delivered in person before a joint session]\n\n"
        "Mr. Speaker, Mr. Vice President, Members of the Congress:\n\n"
        "1. STRENGTHENING THE ECONOMY\n\n"
        "This week we begin anew our joint and separate efforts to build the American future. [Applause]\n"
    )
    assert clean_address(raw) == "This week we begin anew our joint and separate efforts to build the American future."
