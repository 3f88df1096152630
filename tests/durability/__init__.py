"""Kill harness (issue 13): SIGKILL at random moments during every kind of save.

A save loop runs in a child process and writes version after version of one file; once a
first version is complete the harness waits a random time and SIGKILLs the child, then
checks that the file is a complete, readable version (never half-written) and that the
work can be resumed. Children are forked from a "zygote" process that imported convnet
once (a fresh interpreter per kill would cost seconds); the trainer kind, which compiles
and runs JAX code, uses a fresh interpreter instead.

    python -m tests.durability --kills 200            # all kinds, round robin
    python -m tests.durability --kills 20 --kind checkpoint

The default suite kills each kind a few times (``test_kill.py``); the long run is
slow-marked there too.
"""
