//! A minimal read-only reader for one table of an SQLite 3 database file held in memory:
//! the schema table on page 1 names the table's root page, whose table b-tree is walked
//! for every row's record (overflow pages followed). No SQL, no indexes, no WAL.
//!
//! The file is image content: every offset is bounds-checked, every page is visited at
//! most once (a hostile b-tree cannot loop), and payloads are bounded by the file size.

use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

struct Db<'a> {
    data: &'a [u8],
    page_size: usize,
    /// Usable bytes per page (page size minus the reserved tail).
    usable: usize,
    pages: usize,
}

const MAGIC: &[u8] = b"SQLite format 3\0";

/// Calls `row(rowid, record payload)` for every row of `table`, in rowid order; parse the
/// payload with `record`. Err when the file is not an SQLite 3 database, has no such table,
/// or is malformed anywhere on the way (rows already passed to `row` stay passed).
pub fn table_rows(data: &[u8], table: &str, mut row: impl FnMut(i64, &[u8])) -> Result<(), String> {
    let db = Db::open(data)?;
    let mut root = None;
    db.walk(1, &mut |_, payload| {
        if root.is_some() {
            return;
        }
        // sqlite_schema: type, name, tbl_name, rootpage, sql.
        if let Ok(cols) = record(payload) {
            if let (Some(Value::Text(b"table")), Some(Value::Text(n)), Some(Value::Int(r))) =
                (cols.first(), cols.get(1), cols.get(3))
            {
                if *n == table.as_bytes() {
                    root = Some(*r);
                }
            }
        }
    })?;
    let root = root.ok_or_else(|| format!("no table {table}"))?;
    let root = usize::try_from(root).ok().filter(|&r| r >= 1 && r <= db.pages).ok_or("bad root page")?;
    db.walk(root, &mut row)
}

impl<'a> Db<'a> {
    fn open(data: &'a [u8]) -> Result<Db<'a>, String> {
        if data.len() < 100 || &data[..16] != MAGIC {
            return Err("not an SQLite 3 database".into());
        }
        let page_size = match u16::from_be_bytes([data[16], data[17]]) {
            1 => 65536,
            n if n >= 512 && n.is_power_of_two() => n as usize,
            n => return Err(format!("bad page size {n}")),
        };
        let usable = page_size - data[20] as usize;
        if usable < 480 {
            return Err("bad reserved space".into());
        }
        if u32::from_be_bytes([data[56], data[57], data[58], data[59]]) > 1 {
            return Err("text encoding is not UTF-8".into());
        }
        Ok(Db { data, page_size, usable, pages: data.len() / page_size })
    }

    fn page(&self, n: usize) -> Result<&'a [u8], String> {
        if n == 0 || n > self.pages {
            return Err(format!("page {n} is outside the file"));
        }
        Ok(&self.data[(n - 1) * self.page_size..n * self.page_size])
    }

    /// Every row of the table b-tree rooted at `root`, left to right.
    fn walk(&self, root: usize, row: &mut dyn FnMut(i64, &[u8])) -> Result<(), String> {
        let mut visited = HashSet::new();
        let mut stack = vec![root];
        let mut payload = Vec::new();
        while let Some(n) = stack.pop() {
            if !visited.insert(n) {
                return Err(format!("page {n} is reached twice"));
            }
            let page = self.page(n)?;
            let h = if n == 1 { 100 } else { 0 };
            let kind = *page.get(h).ok_or("short page")?;
            let cells = be16(page, h + 3)? as usize;
            match kind {
                0x0d => {
                    for i in 0..cells {
                        let at = be16(page, h + 8 + 2 * i)? as usize;
                        let rowid = self.leaf_cell(page, at, &mut visited, &mut payload)?;
                        row(rowid, &payload);
                    }
                }
                0x05 => {
                    // Pushed right to left so rows come out in rowid order.
                    stack.push(be32(page, h + 8)? as usize);
                    for i in (0..cells).rev() {
                        let at = be16(page, h + 12 + 2 * i)? as usize;
                        stack.push(be32(page, at)? as usize);
                    }
                }
                k => return Err(format!("page {n} is not a table b-tree page (type {k})")),
            }
        }
        Ok(())
    }

    /// A table leaf cell: its rowid, its payload (local part plus overflow chain) in `out`.
    fn leaf_cell(
        &self,
        page: &[u8],
        at: usize,
        visited: &mut HashSet<usize>,
        out: &mut Vec<u8>,
    ) -> Result<i64, String> {
        let (len, a) = varint(page, at)?;
        let (rowid, b) = varint(page, at + a)?;
        let start = at + a + b;
        let len = usize::try_from(len).ok().filter(|&l| l <= self.data.len()).ok_or("payload larger than the file")?;
        let u = self.usable;
        let x = u - 35;
        let local = if len <= x {
            len
        } else {
            let m = (u - 12) * 32 / 255 - 23;
            let k = m + (len - m) % (u - 4);
            if k <= x {
                k
            } else {
                m
            }
        };
        out.clear();
        out.extend_from_slice(page.get(start..start + local).ok_or("cell runs past its page")?);
        let mut next = if local < len { be32(page, start + local)? as usize } else { 0 };
        while out.len() < len {
            if !visited.insert(next) {
                return Err(format!("overflow page {next} is reached twice"));
            }
            let p = self.page(next)?;
            let take = (len - out.len()).min(u - 4);
            out.extend_from_slice(p.get(4..4 + take).ok_or("short overflow page")?);
            next = be32(p, 0)? as usize;
        }
        Ok(rowid as i64)
    }
}

/// The columns of a record (a row's payload).
pub fn record(p: &[u8]) -> Result<Vec<Value<'_>>, String> {
    let (hlen, mut at) = varint(p, 0)?;
    let hlen = usize::try_from(hlen).ok().filter(|&h| h <= p.len()).ok_or("record header past its end")?;
    let mut body = hlen;
    let mut out = Vec::new();
    while at < hlen {
        let (t, n) = varint(p, at)?;
        at += n;
        let size = match t {
            0 | 8 | 9 => 0,
            1..=4 => t as usize,
            5 => 6,
            6 | 7 => 8,
            10 | 11 => return Err("reserved serial type".into()),
            t => ((t - 12) / 2) as usize,
        };
        let v = p.get(body..body.checked_add(size).ok_or("record too long")?).ok_or("record runs past its end")?;
        body += size;
        out.push(match t {
            0 => Value::Null,
            8 => Value::Int(0),
            9 => Value::Int(1),
            1..=6 => {
                // Big-endian two's complement, sign-extended from its width.
                let mut x: i64 = if v[0] & 0x80 != 0 { -1 } else { 0 };
                for &b in v {
                    x = (x << 8) | b as i64;
                }
                Value::Int(x)
            }
            7 => Value::Real(f64::from_bits(u64::from_be_bytes(v.try_into().map_err(|_| "bad real")?))),
            t if t % 2 == 0 => Value::Blob(v),
            _ => Value::Text(v),
        });
    }
    Ok(out)
}

/// SQLite's varint: 1 to 9 bytes, big-endian, 7 bits per byte, all 8 in the ninth.
fn varint(p: &[u8], at: usize) -> Result<(u64, usize), String> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let b = *p.get(at + i).ok_or("varint past the end")?;
        if i == 8 {
            return Ok(((v << 8) | b as u64, 9));
        }
        v = (v << 7) | (b & 0x7f) as u64;
        if b & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    unreachable!("the ninth byte returns")
}

fn be16(p: &[u8], at: usize) -> Result<u16, String> {
    p.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or_else(|| "offset past the page".into())
}

fn be32(p: &[u8], at: usize) -> Result<u32, String> {
    p.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok_or_else(|| "offset past the page".into())
}
