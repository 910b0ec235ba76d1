# The action server: the custom actions, the article's knowledge and the clinic's settings.
# Build from the project folder:
#   docker build -f deploy/actions.Dockerfile -t kyphoplasty-actions .
# The pinned requirements installed as scripts/setup.sh does (--no-deps) and the command of
# scripts/run.sh, listening on every interface of the container only: it is never published
# (compose: no ports; Kubernetes: a ClusterIP Service that only the Rasa servers may reach).
FROM python:3.10.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SANIC_HOST=0.0.0.0
WORKDIR /app

COPY requirements.txt ./
RUN python -m pip install --quiet --upgrade "pip==24.0" \
 && python -m pip install --quiet --no-deps -r requirements.txt \
 && python -m pip check

COPY actions/ actions/
COPY knowledge/ knowledge/
COPY clinic.yml ./

RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin actions
USER 10001:10001
ENV HOME=/tmp

EXPOSE 5055
CMD ["python", "-m", "rasa_sdk", "--actions", "actions", "--port", "5055"]
