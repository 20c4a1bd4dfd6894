import os
import sys

# The package is used from the source tree (the extension sets PYTHONPATH the same way).
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
