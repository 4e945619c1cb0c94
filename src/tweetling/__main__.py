"""`python -m tweetling`, as launchers such as `torchrun -m tweetling` start it."""

from .cli import main

main(prog_name="tweetling")
