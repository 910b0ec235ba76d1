from pathlib import Path
from nlu_components.paths import PROJECT_ROOT
ARTICLE_PATH = PROJECT_ROOT / "knowledge" / "article.yml"
