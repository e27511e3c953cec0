//! Namespace capabilities (`http-api.md` §8.3): the names Nomad accepts, the shorthand
//! `policy` levels and what they expand to, and a small set type for compiled ACLs.

use std::fmt;

macro_rules! capabilities {
    ($($variant:ident => $name:literal,)*) => {
        /// One namespace capability, by its wire name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum Capability {
            $(
                #[doc = concat!("`", $name, "`.")]
                $variant,
            )*
        }

        impl Capability {
            /// Every capability, in declaration order.
            pub const ALL: &'static [Capability] = &[$(Capability::$variant,)*];

            /// The capability's wire name, as policies spell it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Capability::$variant => $name,)*
                }
            }

            /// The capability named `name`, if Nomad knows it (`isNamespaceCapabilityValid`).
            pub fn parse(name: &str) -> Option<Capability> {
                match name {
                    $($name => Some(Capability::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

capabilities! {
    Deny => "deny",
    ListJobs => "list-jobs",
    ParseJob => "parse-job",
    ReadJob => "read-job",
    SubmitJob => "submit-job",
    DispatchJob => "dispatch-job",
    ReadLogs => "read-logs",
    ReadFs => "read-fs",
    AllocExec => "alloc-exec",
    AllocNodeExec => "alloc-node-exec",
    AllocLifecycle => "alloc-lifecycle",
    SentinelOverride => "sentinel-override",
    CsiRegisterPlugin => "csi-register-plugin",
    CsiWriteVolume => "csi-write-volume",
    CsiReadVolume => "csi-read-volume",
    CsiListVolume => "csi-list-volume",
    CsiMountVolume => "csi-mount-volume",
    HostVolumeCreate => "host-volume-create",
    HostVolumeRegister => "host-volume-register",
    HostVolumeRead => "host-volume-read",
    HostVolumeWrite => "host-volume-write",
    HostVolumeDelete => "host-volume-delete",
    ListScalingPolicies => "list-scaling-policies",
    ReadScalingPolicy => "read-scaling-policy",
    ReadJobScaling => "read-job-scaling",
    ScaleJob => "scale-job",
    SubmitRecommendation => "submit-recommendation",
    // The fine-grained split of submit-job (Nomad 1.11.2).
    RegisterJob => "register-job",
    RevertJob => "revert-job",
    DeregisterJob => "deregister-job",
    PurgeJob => "purge-job",
    EvaluateJob => "evaluate-job",
    PlanJob => "plan-job",
    TagJobVersion => "tag-job-version",
    StableJob => "stable-job",
    FailDeployment => "fail-deployment",
    PauseDeployment => "pause-deployment",
    PromoteDeployment => "promote-deployment",
    UnblockDeployment => "unblock-deployment",
    CancelDeployment => "cancel-deployment",
    SetAllocHealthDeployment => "set-alloc-health-deployment",
    GcAllocation => "gc-allocation",
    PauseAllocation => "pause-allocation",
    ForcePeriodicJob => "force-periodic-job",
    DeleteServiceRegistration => "delete-service-registration",
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

use Capability::*;

/// `policy = "read"`.
const READ: &[Capability] = &[
    ListJobs,
    ParseJob,
    ReadJob,
    CsiListVolume,
    CsiReadVolume,
    ReadJobScaling,
    ListScalingPolicies,
    ReadScalingPolicy,
    HostVolumeRead,
];

/// What `policy = "write"` adds to `read`.
const WRITE_EXTRA: &[Capability] = &[
    ScaleJob,
    SubmitJob,
    DispatchJob,
    ReadLogs,
    ReadFs,
    AllocExec,
    AllocLifecycle,
    CsiMountVolume,
    CsiWriteVolume,
    SubmitRecommendation,
    HostVolumeCreate,
];

/// `policy = "scale"`.
const SCALE: &[Capability] = &[
    ListScalingPolicies,
    ReadScalingPolicy,
    ReadJobScaling,
    ScaleJob,
    ReadJob,
    SubmitRecommendation,
];

/// The shorthand levels a namespace `policy` may take (`isPolicyValid`).
pub fn is_namespace_policy(policy: &str) -> bool {
    matches!(policy, "deny" | "read" | "write" | "scale")
}

/// What a namespace `policy` shorthand grants, in Nomad's order (§8.3). None of the
/// shorthands grants the fine-grained job and deployment capabilities: they matter only
/// because every check accepts `submit-job` *or* the fine-grained one.
pub fn expand_namespace_policy(policy: &str) -> Vec<Capability> {
    match policy {
        "deny" => vec![Deny],
        "read" => READ.to_vec(),
        "write" => READ.iter().chain(WRITE_EXTRA).copied().collect(),
        "scale" => SCALE.to_vec(),
        _ => Vec::new(),
    }
}

/// Capabilities implied by others (`expandNamespaceCapabilities`): the host-volume
/// capabilities form a ladder.
pub fn implied_capabilities(granted: &[Capability]) -> Vec<Capability> {
    let mut extra = Vec::new();
    for cap in granted {
        match cap {
            HostVolumeWrite => extra.extend([
                HostVolumeRegister,
                HostVolumeCreate,
                HostVolumeDelete,
                HostVolumeRead,
            ]),
            HostVolumeRegister => extra.extend([HostVolumeCreate, HostVolumeRead]),
            HostVolumeCreate => extra.push(HostVolumeRead),
            _ => {}
        }
    }
    extra
}

/// A set of capabilities, one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CapabilitySet(u64);

// Every capability must have a bit.
const _: () = assert!(Capability::ALL.len() <= 64);

impl CapabilitySet {
    /// No capability at all.
    pub const EMPTY: CapabilitySet = CapabilitySet(0);

    /// A set of one capability.
    pub fn only(cap: Capability) -> CapabilitySet {
        CapabilitySet(1 << cap as u8)
    }

    /// Whether `cap` is in the set.
    pub fn contains(self, cap: Capability) -> bool {
        self.0 & (1 << cap as u8) != 0
    }

    /// Adds `cap`.
    pub fn insert(&mut self, cap: Capability) {
        self.0 |= 1 << cap as u8;
    }

    /// Whether the set holds no capability.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The capabilities in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL
            .iter()
            .copied()
            .filter(move |c| self.contains(*c))
    }
}

impl FromIterator<Capability> for CapabilitySet {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut set = CapabilitySet::EMPTY;
        for cap in iter {
            set.insert(cap);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for cap in Capability::ALL {
            assert_eq!(Capability::parse(cap.as_str()), Some(*cap));
        }
        assert_eq!(Capability::parse("submit-jobs"), None);
        assert_eq!(Capability::ALL.len(), 45);
    }

    #[test]
    fn shorthands_expand_exactly_as_nomad() {
        let names = |p: &str| -> Vec<&str> {
            expand_namespace_policy(p)
                .into_iter()
                .map(|c| c.as_str())
                .collect()
        };
        assert_eq!(names("deny"), ["deny"]);
        assert_eq!(
            names("read"),
            [
                "list-jobs",
                "parse-job",
                "read-job",
                "csi-list-volume",
                "csi-read-volume",
                "read-job-scaling",
                "list-scaling-policies",
                "read-scaling-policy",
                "host-volume-read"
            ]
        );
        assert_eq!(
            names("write")[9..],
            [
                "scale-job",
                "submit-job",
                "dispatch-job",
                "read-logs",
                "read-fs",
                "alloc-exec",
                "alloc-lifecycle",
                "csi-mount-volume",
                "csi-write-volume",
                "submit-recommendation",
                "host-volume-create"
            ]
        );
        assert_eq!(names("write")[..9], names("read")[..]);
        assert_eq!(
            names("scale"),
            [
                "list-scaling-policies",
                "read-scaling-policy",
                "read-job-scaling",
                "scale-job",
                "read-job",
                "submit-recommendation"
            ]
        );
        // `list` is a plugin level, not a namespace one.
        assert!(!is_namespace_policy("list"));
        assert!(names("list").is_empty());
        // No shorthand grants a fine-grained deployment capability.
        for p in ["read", "write", "scale"] {
            let set: CapabilitySet = expand_namespace_policy(p).into_iter().collect();
            for fine in [
                FailDeployment,
                PauseDeployment,
                PromoteDeployment,
                SetAllocHealthDeployment,
                RegisterJob,
                RevertJob,
                StableJob,
                PurgeJob,
                DeregisterJob,
            ] {
                assert!(!set.contains(fine), "{p} grants {fine}");
            }
        }
    }

    #[test]
    fn host_volume_ladder() {
        let implied = implied_capabilities(&[HostVolumeWrite]);
        assert_eq!(
            implied,
            [
                HostVolumeRegister,
                HostVolumeCreate,
                HostVolumeDelete,
                HostVolumeRead
            ]
        );
        assert_eq!(implied_capabilities(&[ReadJob]), []);
    }

    #[test]
    fn sets() {
        let mut s = CapabilitySet::EMPTY;
        assert!(s.is_empty());
        s.insert(DeleteServiceRegistration);
        s.insert(Deny);
        assert!(s.contains(Deny) && s.contains(DeleteServiceRegistration));
        assert!(!s.contains(ReadJob));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [Deny, DeleteServiceRegistration]
        );
    }
}
