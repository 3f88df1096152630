"""Property-based fuzzing of convnet's file readers (issue 13).

Every reader convnet offers for files a user may have been sent (IDX, CIFAR pickles, npz
and HDF5 parameter files, training checkpoints, preprocessing files, JPEGs) is fed valid
files mutated by Hypothesis (bit flips, overwritten bytes and integers, cuts, insertions)
and generated headers. Each input is read in a worker subprocess whose address space is
limited with :mod:`resource`, with a time limit per input; it must either load with the
right shapes and dtypes or raise ValueError/OSError naming the file. A crash, a hang, a
``MemoryError`` or another exception type fails.

The default suite runs a few examples per reader (``test_fuzz.py``); a longer run::

    python -m tests.fuzz --minutes 30            # all readers, round robin
    python -m tests.fuzz --minutes 5 --reader idx --reader hdf5_params

prints how many inputs each reader got, and every failure with the input saved to a file.
"""
