"""Every use of a Keras private attribute, each behind a capability probe.

`FusedAdam` hands an Adam variable's slots to one TensorFlow kernel, so it needs their resource
handles, which Keras 3 keeps in privates: `optimizer._get_variable_index(variable)` indexes
`optimizer._momentums` / `optimizer._velocities` (lists of `keras.Variable`), whose `.value` is
the backend `tf.Variable` with a `.handle` (keras/src/optimizers/adam.py, base_optimizer.py;
Keras 3.15.1). The distributed train step sums the replicas' gradients itself (to clip by
the norm of the sum, and to keep embedding slices apart) and must stop Keras' TF optimizer from
summing them again in `apply`: Keras has no public switch for that, only the method
`_all_reduce_sum_gradients` (keras/src/backend/tensorflow/optimizer.py), replaced per
optimizer by `skip_gradient_all_reduce`. Nothing else in the project touches a Keras or
TensorFlow private.

`adam_slot_handles` returns None instead of raising when those attributes are missing or do not
fit the variable (another Keras version): the caller then runs Keras' own public update and
`warn_once` says so; `skip_gradient_all_reduce` returns False and the caller hands Keras each
replica's share of the summed gradients instead. tests/test_keras_private.py asserts that
the probes pass on the pinned Keras, so an upgrade that changes a private fails that test
loudly rather than training on the slower path unnoticed.
"""

import logging

import tensorflow as tf

log = logging.getLogger(__name__)

# The private names read below, in one place (a Keras upgrade that renames one shows here).
VARIABLE_INDEX = "_get_variable_index"
MOMENTUMS = "_momentums"
VELOCITIES = "_velocities"
ALL_REDUCE = "_all_reduce_sum_gradients"

_warned: set[str] = set()


def adam_slot_handles(optimizer, variable) -> tuple[tf.Tensor, tf.Tensor] | None:
    """The resource handles (m, v) of `variable`'s Adam slots in a built Keras Adam/AdamW, or
    None when Keras' privates are not there or not as expected (a slot of another shape or
    dtype, or a slot without a resource handle)."""
    try:
        index = getattr(optimizer, VARIABLE_INDEX)(variable)
        slots = getattr(optimizer, MOMENTUMS)[index], getattr(optimizer, VELOCITIES)[index]
        handles = tuple(slot.value.handle for slot in slots)
    except (AttributeError, KeyError, IndexError, TypeError):
        return None
    for slot in slots:
        same_dtype = tf.as_dtype(slot.dtype) == tf.as_dtype(variable.dtype)
        if tuple(slot.shape) != tuple(variable.shape) or not same_dtype:
            return None
    return handles


def fused_adam_supported(optimizer, variables) -> bool:
    """Whether `adam_slot_handles` finds the slots of every variable of a built optimizer."""
    return all(adam_slot_handles(optimizer, v) is not None for v in variables)


def skip_gradient_all_reduce(optimizer) -> bool:
    """Make `optimizer.apply` in a replica context use the gradients as given, without summing
    them over the replicas; False (and the optimizer unchanged) when Keras has no such step."""
    if not callable(getattr(optimizer, ALL_REDUCE, None)):
        return False
    setattr(optimizer, ALL_REDUCE, lambda grads_and_vars: list(grads_and_vars))
    return True


def warn_once(key: str, message: str) -> None:
    """Log `message` as a warning the first time `key` is seen in this process."""
    if key not in _warned:
        _warned.add(key)
        log.warning(message)
