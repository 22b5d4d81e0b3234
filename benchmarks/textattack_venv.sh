#!/usr/bin/env bash
# TextAttack 0.3.11 in a virtualenv of its own, for benchmarks/textattack_compare.py (issue 22).
#   bash benchmarks/textattack_venv.sh [VENV]        (default: ../ta-venv beside the repository)
# It reuses this machine's torch and numpy (--system-site-packages) and installs TextAttack without
# its dependency resolver, which backtracks for a long time over flair; flair 0.15 needs a
# transformers older than zhaug's (LayoutLMv2FeatureExtractor), so transformers 4.46, tokenizers
# 0.20, huggingface-hub 0.26 and datasets 3.1 go into the venv only. Offline fixes:
# - NLTK's English stop-word list (TextAttack imports it; the download needs the network) is
#   written from scikit-learn's list;
# - the 0.3.11 wheel lacks textattack/shared/chinese_homophone_char.txt and looks for it under
#   transformations/shared/: it is taken from a TextAttack checkout (TEXTATTACK_REPO, a clone or
#   `git` mirror of github.com/QData/TextAttack).
# - sdists (word2number, ...) build in isolation (--use-pep517): a legacy `setup.py egg_info` run
#   in the venv loads every setuptools entry point it can see, including those of packages in the
#   system site (e.g. `kernels`, which needs a newer huggingface-hub than the venv's), and fails.
set -euo pipefail
VENV=${1:-$(dirname "$0")/../../ta-venv}
python -m venv --system-site-packages "$VENV"
PIP="$VENV/bin/pip install -q --no-deps --use-pep517"
$PIP textattack==0.3.11 flair==0.15.0 transformers==4.46.3 tokenizers==0.20.3 huggingface-hub==0.26.5 \
    datasets==3.1.0 fsspec==2024.9.0
$PIP editdistance lru-dict lemminflect word2number num2words docopt terminaltables pinyin OpenHowNet Levenshtein \
    rapidfuzz language_tool_python bert-score anytree nltk regex click joblib segtok sqlitedict deprecated wrapt \
    conllu pptree ftfy wcwidth gdown wikipedia-api langdetect tabulate janome bioc jsonlines intervaltree \
    sortedcontainers pytorch_revgrad mpld3 lxml transformer-smaller-training-vocab aiohttp multidict yarl \
    propcache aiohappyeyeballs aiosignal frozenlist more-itertools attrs psutil toml
mkdir -p "$HOME/nltk_data/corpora/stopwords"
"$VENV/bin/python" -c "from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS as S; \
open('$HOME/nltk_data/corpora/stopwords/english', 'w').write('\n'.join(sorted(S)) + '\n')"
SHARED="$("$VENV/bin/python" -c 'import textattack, os; print(os.path.dirname(textattack.__file__))')/transformations/shared"
mkdir -p "$SHARED"
git -C "${TEXTATTACK_REPO:?set TEXTATTACK_REPO to a TextAttack clone}" show HEAD:textattack/shared/chinese_homophone_char.txt \
    > "$SHARED/chinese_homophone_char.txt"
"$VENV/bin/python" -c "import textattack; print('textattack ready')"
