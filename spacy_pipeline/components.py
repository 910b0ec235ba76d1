"""Custom spaCy components of the project's pipeline; importing this module registers them.

No `from __future__ import annotations` here: spaCy validates factory signatures at run time.
"""

from spacy.language import Language
from spacy.tokens import Doc


@Language.factory("lowercase_lemmas", requires=["token.lemma"], assigns=["token.lemma"])
def create_lowercase_lemmas(nlp: Language, name: str) -> "LowercaseLemmas":
    return LowercaseLemmas(nlp)


class LowercaseLemmas:
    """Makes lemmas case-insensitive: "Tumors" and "TUMORS" both become "tumor".

    The lookup table is keyed by the exact token text, so a capitalised word (sentence start,
    SHOUTING on a phone) would otherwise keep its inflected form and miss every lemma pattern.
    """

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp

    def __call__(self, doc: Doc) -> Doc:
        table = self.nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
        for token in doc:
            token.lemma_ = table.get(token.lower_, token.lower_)
        return doc
