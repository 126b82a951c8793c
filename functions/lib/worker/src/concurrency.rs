//! How much of one SQS batch runs at once. A message spends most of its time waiting on S3 and
//! DynamoDB, so several are in flight; decoding is CPU and memory, so renders are held to the
//! vCPUs Lambda gives the function's memory size, and together to the decode memory budget that
//! one render alone was held to before. A file accepted alone is accepted in a batch: it waits
//! for room, it is never refused for its neighbours.

use std::sync::Arc;

use shared::lambda::{MAX_VCPUS, MB_PER_VCPU};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Messages in flight per vCPU. A message's render is about 20 ms of CPU in its 190 ms (the rest
/// is S3 and DynamoDB round trips), so several keep a vCPU busy; renders wait at the gate, so more
/// cost only their downloads, which `derive` holds to memory. Measured with `thumbstack-local e2e`
/// (batches of 5, S3 at +40 ms, one core): 5.3 uploads/s one at a time, 8.6 with 2, 11.3 with 4,
/// 16.7 with the whole batch at once.
pub const MESSAGES_PER_RENDER: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency {
    /// Messages of a batch in flight at once (`BATCH_CONCURRENCY`; 1 is the sequential loop).
    pub messages: usize,
    /// Renders at once: one per vCPU.
    pub renders: usize,
}

impl Concurrency {
    /// `memory_mb`: the function's memory size, where Lambda says it; `cores` otherwise (off
    /// Lambda, the machine's). Downloads of up to `max_bytes` each are held together to the
    /// same [`share`] of the memory size as the decodes.
    pub fn derive(memory_mb: Option<u64>, cores: usize, max_bytes: u64, messages: Option<usize>) -> Concurrency {
        let renders = match memory_mb {
            Some(mb) => usize::try_from(mb.div_ceil(MB_PER_VCPU).clamp(1, MAX_VCPUS)).unwrap_or(1),
            None => cores.max(1),
        };
        let by_memory = memory_mb.map_or(usize::MAX, |mb| usize::try_from(share(mb) / max_bytes.max(1)).unwrap_or(usize::MAX));
        let messages = messages.unwrap_or(renders * MESSAGES_PER_RENDER).min(by_memory).max(1);
        Concurrency { messages, renders }
    }
}

/// 40 % of a memory size in MB, in bytes: what the decodes may hold together, and the downloads.
pub fn share(mb: u64) -> u64 {
    mb * 1_000_000 * 2 / 5
}

/// The permits every render of one function instance shares (built once, with the clients).
#[derive(Clone)]
pub struct Gate {
    renders: Arc<Semaphore>,
    /// The decode memory budget in MiB: each render holds what its header says it needs.
    memory: Arc<Semaphore>,
    memory_mib: u32,
}

/// Held for as long as a render runs; moved into its blocking thread, so a render abandoned at
/// the deadline keeps its share until it has really stopped.
pub struct Turn {
    _memory: OwnedSemaphorePermit,
    _cpu: OwnedSemaphorePermit,
}

impl Gate {
    pub fn new(concurrency: Concurrency, max_memory: u64) -> Gate {
        let memory_mib = u32::try_from((max_memory >> 20).max(1)).unwrap_or(u32::MAX >> 4);
        Gate {
            renders: Arc::new(Semaphore::new(concurrency.renders.max(1))),
            memory: Arc::new(Semaphore::new(memory_mib as usize)),
            memory_mib,
        }
    }

    /// Waits until `needed` bytes of the budget and a vCPU are free. What needs more than the
    /// whole budget is refused by the render itself, after holding all of it.
    pub async fn turn(&self, needed: u64) -> Turn {
        let mib = u32::try_from(needed.div_ceil(1 << 20)).unwrap_or(u32::MAX).clamp(1, self.memory_mib);
        // Memory first, then a vCPU: no one holds a vCPU while waiting for memory.
        let memory = Arc::clone(&self.memory).acquire_many_owned(mib).await.expect("the gate is never closed");
        let cpu = Arc::clone(&self.renders).acquire_owned().await.expect("the gate is never closed");
        Turn { _memory: memory, _cpu: cpu }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn renders_follow_lambdas_vcpus_and_messages_the_memory_left_for_downloads() {
        let derive = |mb: u64, max_bytes: u64| Concurrency::derive(Some(mb), 2, max_bytes, None);
        // 1,024 MB: under one vCPU; 25 MiB uploads leave room for 15 downloads, 8 are asked.
        assert_eq!(derive(1024, 25 * MIB), Concurrency { messages: 8, renders: 1 });
        // 512 MB: room for 7 downloads of 25 MiB.
        assert_eq!(derive(512, 25 * MIB), Concurrency { messages: 7, renders: 1 });
        assert_eq!(derive(1769, 25 * MIB), Concurrency { messages: 8, renders: 1 });
        assert_eq!(derive(3538, 25 * MIB), Concurrency { messages: 16, renders: 2 });
        assert_eq!(derive(10240, 25 * MIB), Concurrency { messages: 48, renders: 6 });
        // 128 MB with 50 MiB uploads: one download at a time.
        assert_eq!(derive(128, 50 * MIB), Concurrency { messages: 1, renders: 1 });
        // Asked for explicitly, still within memory; 1 is the sequential loop.
        assert_eq!(Concurrency::derive(Some(1024), 2, 25 * MIB, Some(64)).messages, 15);
        assert_eq!(Concurrency::derive(Some(1024), 2, 25 * MIB, Some(1)).messages, 1);
        // Off Lambda: the machine's cores.
        assert_eq!(Concurrency::derive(None, 3, 50 * MIB, None), Concurrency { messages: 24, renders: 3 });
    }

    #[tokio::test]
    async fn renders_wait_for_memory_and_for_a_vcpu() {
        let gate = Gate::new(Concurrency { messages: 8, renders: 2 }, 100 * MIB);
        let big = gate.turn(60 * MIB).await;
        // 60 + 50 > 100: the second waits for the first, though a vCPU is free.
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), gate.turn(50 * MIB)).await;
        assert!(waiting.is_err(), "a render started past the memory budget");
        let small = gate.turn(30 * MIB).await;
        // Both vCPUs busy: even 1 MiB waits.
        assert!(tokio::time::timeout(std::time::Duration::from_millis(50), gate.turn(MIB)).await.is_err());
        drop(big);
        let _next = gate.turn(50 * MIB).await;
        drop(small);
        // More than the whole budget holds all of it (the render then refuses the file).
        drop(_next);
        let _all =
            tokio::time::timeout(std::time::Duration::from_millis(50), gate.turn(500 * MIB)).await.expect("all of it is free");
    }
}
