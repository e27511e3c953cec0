//! The inverse of [`crate::engine::decode`]: writes programs as the bytes the
//! `engine_commands` target reads, so that seed corpora can be written as readable
//! action lists. It mirrors `arbitrary` 1.x's format (little-endian integers, `bool` as
//! the low bit of a byte, an enum variant as a `u32` scaled onto the variant count);
//! [`encode`] checks that its output decodes back to its input, so a format change
//! fails the seed generator instead of silently writing useless seeds.

use crate::engine::*;

/// Bytes that decode to `steps`. Panics if they would not (see the module docs).
pub fn encode(steps: &[Step]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in steps {
        s.action.put(&mut out);
        out.extend_from_slice(&s.tail);
    }
    let back = decode(&out);
    assert_eq!(back, steps, "encoder and decoder disagree");
    out
}

/// A step without trailing bytes.
pub fn step(action: Action) -> Step {
    Step {
        action,
        tail: Vec::new(),
    }
}

/// A raw JSON command step.
pub fn raw(json: &[u8]) -> Step {
    let len = json.len().min(255);
    Step {
        action: Action::RawJson(RawJson { len: len as u8 }),
        tail: json[..len].to_vec(),
    }
}

trait Put {
    fn put(&self, out: &mut Vec<u8>);
}

impl Put for u8 {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
}

impl Put for bool {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
}

impl Put for u16 {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Put for i64 {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl<T: Put, const N: usize> Put for [T; N] {
    fn put(&self, out: &mut Vec<u8>) {
        self.iter().for_each(|x| x.put(out));
    }
}

/// `arbitrary`'s enum tag: the smallest `u32` that scales onto `index` of `count`.
fn tag(out: &mut Vec<u8>, index: u64, count: u64) {
    let v = (index << 32).div_ceil(count);
    debug_assert_eq!((v * count) >> 32, index);
    out.extend_from_slice(&(v as u32).to_le_bytes());
}

macro_rules! put_struct {
    ($($ty:ident { $($field:ident),* })*) => {
        $(impl Put for $ty {
            fn put(&self, out: &mut Vec<u8>) {
                $(self.$field.put(out);)*
            }
        })*
    };
}

put_struct! {
    Register { job, namespace, image, count, canary, max_parallel, auto_revert, auto_promote,
               progress_deadline, health_check, groups, mutations }
    Mutation { kind, value }
    Schedule { eval, keep, tamper, value }
    Client { alloc, count, status, health, canary, time, time_value, task_states }
    SetHealth { deployment, alloc, healthy, count, garbage }
    Promote { deployment, all, groups }
    Pause { deployment, pause }
    Fail { deployment }
    Tick { advance_s }
    Warp { mode, value }
    Ack { eval, status }
    Revert { job, namespace, version, enforce }
    Stable { job, namespace, version, stable }
    Stop { job, namespace, purge, eval_priority }
    Gc { evaluations, threshold }
    Reap { deployment, count, garbage }
    Garbage { which }
    RawJson { len }
}

impl Put for Acl {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Acl::Bootstrap {
                accessor,
                reset_index,
            } => {
                tag(out, 0, 5);
                accessor.put(out);
                reset_index.put(out);
            }
            Acl::UpsertPolicy {
                name,
                rules,
                job_acl,
            } => {
                tag(out, 1, 5);
                name.put(out);
                rules.put(out);
                job_acl.put(out);
            }
            Acl::DeletePolicy { name } => {
                tag(out, 2, 5);
                name.put(out);
            }
            Acl::UpsertToken {
                accessor,
                new,
                token_type,
                policies,
                roles,
                global,
                expiration,
            } => {
                tag(out, 3, 5);
                accessor.put(out);
                new.put(out);
                token_type.put(out);
                policies.put(out);
                roles.put(out);
                global.put(out);
                expiration.put(out);
            }
            Acl::DeleteToken { accessor } => {
                tag(out, 4, 5);
                accessor.put(out);
            }
        }
    }
}

impl Put for Action {
    fn put(&self, out: &mut Vec<u8>) {
        const N: u64 = 18;
        match self {
            Action::Register(x) => {
                tag(out, 0, N);
                x.put(out)
            }
            Action::Schedule(x) => {
                tag(out, 1, N);
                x.put(out)
            }
            Action::Client(x) => {
                tag(out, 2, N);
                x.put(out)
            }
            Action::SetHealth(x) => {
                tag(out, 3, N);
                x.put(out)
            }
            Action::Promote(x) => {
                tag(out, 4, N);
                x.put(out)
            }
            Action::Pause(x) => {
                tag(out, 5, N);
                x.put(out)
            }
            Action::Fail(x) => {
                tag(out, 6, N);
                x.put(out)
            }
            Action::Tick(x) => {
                tag(out, 7, N);
                x.put(out)
            }
            Action::Warp(x) => {
                tag(out, 8, N);
                x.put(out)
            }
            Action::Ack(x) => {
                tag(out, 9, N);
                x.put(out)
            }
            Action::Revert(x) => {
                tag(out, 10, N);
                x.put(out)
            }
            Action::Stable(x) => {
                tag(out, 11, N);
                x.put(out)
            }
            Action::Stop(x) => {
                tag(out, 12, N);
                x.put(out)
            }
            Action::Gc(x) => {
                tag(out, 13, N);
                x.put(out)
            }
            Action::Reap(x) => {
                tag(out, 14, N);
                x.put(out)
            }
            Action::Acl(x) => {
                tag(out, 15, N);
                x.put(out)
            }
            Action::Garbage(x) => {
                tag(out, 16, N);
                x.put(out)
            }
            Action::RawJson(x) => {
                tag(out, 17, N);
                x.put(out)
            }
        }
    }
}
