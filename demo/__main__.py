"""`python -m enclava.demo`."""

from enclava.demo.run import main

main()
