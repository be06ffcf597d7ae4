//! Deterministic bytes that nothing compresses: large entries that really span many buffers,
//! stored and deflated sizes that stay about equal.

/// A xorshift64 stream of bytes: fast, seedable, and nothing deflate could shrink.
#[derive(Debug, Clone)]
pub struct Noise {
    state: u64,
}

impl Noise {
    /// A stream from `seed` (any value; xorshift must not start at zero, so the low bit is set).
    pub fn new(seed: u64) -> Self {
        Self { state: seed | 1 }
    }

    /// Fills `buffer` with the next bytes of the stream.
    pub fn fill(&mut self, buffer: &mut [u8]) {
        let mut words = buffer.chunks_exact_mut(8);
        for word in &mut words {
            word.copy_from_slice(&self.next_word().to_le_bytes());
        }
        let tail = words.into_remainder();
        if !tail.is_empty() {
            let word = self.next_word().to_le_bytes();
            tail.copy_from_slice(&word[..tail.len()]);
        }
    }

    fn next_word(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }
}

/// `len` bytes of the stream from `seed`.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0; len];
    Noise::new(seed).fill(&mut bytes);
    bytes
}
