//! `skip_serializing_if` predicates for the types Nomad sends with zero fields omitted
//! (`Allocation`, `Evaluation`: `http-api.md` §4.2 rule 8).

pub(crate) fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

pub(crate) fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

pub(crate) fn is_false(v: &bool) -> bool {
    !*v
}
