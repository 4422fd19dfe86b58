//! EBML elements (RFC 8794) read strictly: every ID, size and integer must fit the bytes at hand.

/// An error names the offending element and where it is.
pub(super) type R<T> = Result<T, String>;

pub(super) struct Reader<'a> {
    pub b: &'a [u8],
}

impl Reader<'_> {
    /// Variable-length integer at `i`: (value, length, all value bits set = unknown size).
    pub fn vint(&self, i: usize) -> R<(u64, usize, bool)> {
        let first = *self
            .b
            .get(i)
            .ok_or_else(|| format!("vint past the end at {i}"))?;
        if first == 0 {
            return Err(format!("invalid vint at {i}"));
        }
        let len = first.leading_zeros() as usize + 1;
        let bytes = self
            .b
            .get(i..i + len)
            .ok_or_else(|| format!("truncated vint at {i}"))?;
        let mut v = u64::from(first) & ((1u64 << (8 - len)) - 1);
        for &x in &bytes[1..] {
            v = (v << 8) | u64::from(x);
        }
        Ok((v, len, v == (1u64 << (7 * len)) - 1))
    }

    /// Element ID at `i`: (ID with its marker bits, length).
    pub fn id(&self, i: usize) -> R<(u32, usize)> {
        let first = *self
            .b
            .get(i)
            .ok_or_else(|| format!("ID past the end at {i}"))?;
        let len = first.leading_zeros() as usize + 1;
        if len > 4 {
            return Err(format!("invalid ID at {i}"));
        }
        let bytes = self
            .b
            .get(i..i + len)
            .ok_or_else(|| format!("truncated ID at {i}"))?;
        Ok((
            bytes.iter().fold(0, |acc, &x| (acc << 8) | u32::from(x)),
            len,
        ))
    }

    /// (id, payload start, payload end or None when unknown-size).
    pub fn header(&self, i: usize) -> R<(u32, usize, Option<usize>)> {
        let (id, il) = self.id(i)?;
        let (size, sl, unknown) = self.vint(i + il)?;
        let start = i + il + sl;
        if unknown {
            return Ok((id, start, None));
        }
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| start.checked_add(s));
        match end {
            Some(end) if end <= self.b.len() => Ok((id, start, Some(end))),
            _ => Err(format!("element {id:#x} at {i} overruns the file")),
        }
    }

    /// Children of a known-size master, exactly filling it.
    pub fn children(&self, start: usize, end: usize) -> R<Vec<(u32, usize, usize)>> {
        let mut out = Vec::new();
        let mut i = start;
        while i < end {
            let (id, s, e) = self.header(i)?;
            let e = e.ok_or_else(|| format!("unknown size {id:#x} inside a known-size master"))?;
            if e > end {
                return Err(format!("child {id:#x} at {i} overruns its parent"));
            }
            out.push((id, s, e));
            i = e;
        }
        Ok(out)
    }

    /// Unsigned integer payload, at most 8 bytes.
    pub fn uint(&self, s: usize, e: usize) -> R<u64> {
        if e - s > 8 {
            return Err(format!("uint of {} bytes at {s}", e - s));
        }
        Ok(self.b[s..e]
            .iter()
            .fold(0, |acc, &x| (acc << 8) | u64::from(x)))
    }
}
