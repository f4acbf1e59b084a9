"""``python -m engines.chat_server --model DIR (--uds PATH | --port N) [...]``."""

import sys

from .server import main

sys.exit(main())
