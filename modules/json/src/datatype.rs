//! The value of a JSON key: the `ReJSON-RL` data type (RDB as RedisJSON writes it, AOF, memory,
//! digest, copy, defrag).

use crate::defrag::defrag_document;
use crate::legacy_rdb;
use jsondoc::Document;
use rm::{
    AofWriter, DataType, Defrag, DefragStatus, Digest, Error, RStr, RdbReader, RdbWriter, Result,
};

/// The value of a JSON key.
pub(crate) struct Json(pub(crate) Document);

impl DataType for Json {
    const NAME: &'static str = "ReJSON-RL";
    const ENCODING_VERSION: i32 = 3;

    fn rdb_save(&self, io: &mut RdbWriter<'_>) {
        let mut text = Vec::new();
        self.0.to_compact(&mut text);
        io.save_bytes(&text);
    }

    fn rdb_load(io: &mut RdbReader<'_>, encver: i32) -> Result<Self> {
        let text = match encver {
            3 => io.load_bytes()?,
            2 => {
                // RedisJSON 2.0: the JSON, then a count; a non-zero count is followed by two
                // strings of RediSearch index data, which are read and dropped.
                let text = io.load_bytes()?;
                if io.load_unsigned()? > 0 {
                    io.load_bytes()?;
                    io.load_bytes()?;
                }
                text
            }
            0 => legacy_rdb::load(io, jsondoc::MAX_TRUSTED_DEPTH)?,
            // 1 is the only other version the server hands us (newer ones it refuses before
            // calling): no RedisJSON or valkey-json release wrote it.
            other => {
                return Err(Error::err(format!(
                    "ReJSON-RL encoding version {other} was never written by RedisJSON or \
                     valkey-json; this module loads versions 0, 2 and 3"
                )));
            }
        };
        Document::from_saved_json(&text)
            .map(Json)
            .map_err(|error| Error::err(format!("bad ReJSON-RL payload: {error}")))
    }

    fn aof_rewrite(&self, key: &RStr, aof: &mut AofWriter<'_>) -> Result<()> {
        let mut text = Vec::new();
        self.0.to_compact(&mut text);
        aof.emit("JSON.SET", (key, "$", &text))
    }

    fn mem_usage(&self) -> usize {
        self.0.memory_usage()
    }

    fn digest(&self, digest: &mut Digest<'_>) {
        let mut text = Vec::new();
        self.0.to_compact(&mut text);
        digest.add_bytes(&text);
        digest.end_sequence();
    }

    fn copy(&self) -> Option<Self> {
        Some(Json(self.0.clone()))
    }

    /// One per heap block: a blob document frees (and defragments) in one step, a big expanded
    /// one is freed in the background by `UNLINK`/lazy free (above 64) and defragmented
    /// incrementally (above `active-defrag-max-scan-fields`, 1000 by default). The server asks
    /// for every key its defrag scan visits, so the count stops at 100 000 blocks (a walk of
    /// at most that many nodes, ~0.1 ms) rather than walk a huge document each time.
    fn free_effort(&self) -> usize {
        self.0.heap_blocks(100_000)
    }

    fn defrag(&mut self, defrag: &mut Defrag<'_>) -> DefragStatus {
        defrag_document(&mut self.0, defrag)
    }
}
