//! Facts of the Lambda platform that both the functions (their concurrency) and the deployer
//! (the bench's cost figures) use.

/// Lambda gives one vCPU's worth of CPU at 1,769 MB and scales it with the memory size, up to
/// 6 vCPUs at 10,240 MB ("Lambda memory and computing power", Lambda developer guide). Below
/// 1,769 MB a function has that fraction of one vCPU.
pub const MB_PER_VCPU: u64 = 1769;
pub const MAX_VCPUS: u64 = 6;
