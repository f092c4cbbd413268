from ._seqrec import (
    METHODS as METHODS,
    Dataset as Dataset,
    Model as Model,
    __version__ as __version__,
    compare as compare,
    evaluate as evaluate,
    fit as fit,
    get_num_threads as get_num_threads,
    load as load,
    set_num_threads as set_num_threads,
    tune as tune,
)
