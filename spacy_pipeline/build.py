"""Builds the project's spaCy pipeline and installs it as the package `en_kyphoplasty`.

blank English + sentencizer + lookup lemmatizer (spacy-lookups-data) + case-insensitive lemmas
+ an entity ruler whose lemma patterns find conditions and procedure words. Installed as a
package (spaCy's own `spacy package`), `spacy.load("en_kyphoplasty")` works from any directory,
which is what Rasa's SpacyNLP needs. Skipped when the inputs are unchanged.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import spacy
import yaml
from spacy.language import Language

import spacy_pipeline.components  # noqa: F401  (registers the custom factories)
from nlu_components.paths import CACHE_DIR

PACKAGE_NAME = "kyphoplasty"  # spaCy prefixes the language: en_kyphoplasty
PACKAGE_VERSION = "1.0.0"
PIPELINE_DIR = CACHE_DIR / "spacy" / "pipeline"
PACKAGE_DIR = CACHE_DIR / "spacy" / "package"

HERE = Path(__file__).resolve().parent
PATTERNS_PATH = HERE / "entity_patterns.yml"
INPUTS = (PATTERNS_PATH, HERE / "components.py", Path(__file__).resolve())
STAMP = CACHE_DIR / "spacy" / "inputs.sha256"


def entity_patterns() -> List[Dict[str, object]]:
    """Turns entity_patterns.yml into entity-ruler patterns with an id per concept."""
    lexicon = yaml.safe_load(PATTERNS_PATH.read_text(encoding="utf-8"))
    return [
        {"label": label, "id": concept, "pattern": [{"LEMMA": lemma} for lemma in sequence]}
        for label, concepts in lexicon.items()
        for concept, sequences in concepts.items()
        for sequence in sequences
    ]


def build_pipeline() -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.add_pipe("lowercase_lemmas")
    ruler = nlp.add_pipe("entity_ruler")
    nlp.initialize()  # loads the lemma tables; patterns must come after it
    ruler.add_patterns(entity_patterns())
    return nlp


def inputs_digest() -> str:
    digest = hashlib.sha256()
    for path in INPUTS:
        digest.update(path.read_bytes())
    digest.update(spacy.about.__version__.encode())
    return digest.hexdigest()


def install_package() -> None:
    """Packages the pipeline with its custom component code and installs it in this venv."""
    PACKAGE_DIR.mkdir(parents=True, exist_ok=True)
    spacy_cli = [sys.executable, "-m", "spacy", "package", str(PIPELINE_DIR), str(PACKAGE_DIR)]
    options = ["--name", PACKAGE_NAME, "--version", PACKAGE_VERSION, "--force"]
    code = ["--code", str(HERE / "components.py"), "--build", "sdist"]
    subprocess.run(spacy_cli + options + code, check=True, stdout=subprocess.DEVNULL)
    (sdist,) = PACKAGE_DIR.glob(f"en_{PACKAGE_NAME}-{PACKAGE_VERSION}/dist/*.tar.gz")
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--force-reinstall", str(sdist)], check=True)


def main() -> None:
    digest = inputs_digest()
    installed = importlib.util.find_spec(f"en_{PACKAGE_NAME}") is not None
    if installed and STAMP.is_file() and STAMP.read_text() == digest:
        print(f"spaCy pipeline en_{PACKAGE_NAME} up to date")
        return
    PIPELINE_DIR.parent.mkdir(parents=True, exist_ok=True)
    build_pipeline().to_disk(PIPELINE_DIR)
    install_package()
    STAMP.write_text(digest)
    print(f"spaCy pipeline built and installed as en_{PACKAGE_NAME}")


if __name__ == "__main__":
    main()
