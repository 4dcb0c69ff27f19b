//! Redirects calls that every loaded ELF object makes to a few imported functions, by
//! rewriting their slots in each object's global offset table. Used only in a forked
//! snapshot child, whose single thread must not wait for threads that fork did not copy.

use std::ffi::{c_int, c_void, CStr};

/// `Elf64_Dyn`.
#[repr(C)]
struct Dyn {
    tag: i64,
    val: u64,
}

/// `Elf64_Rela`.
#[repr(C)]
struct Rela {
    offset: u64,
    info: u64,
    _addend: i64,
}

/// `Elf64_Sym`.
#[repr(C)]
struct Sym {
    name: u32,
    _info: u8,
    _other: u8,
    _shndx: u16,
    _value: u64,
    _size: u64,
}

const DT_NULL: i64 = 0;
const DT_PLTRELSZ: i64 = 2;
const DT_STRTAB: i64 = 5;
const DT_SYMTAB: i64 = 6;
const DT_RELA: i64 = 7;
const DT_RELASZ: i64 = 8;
const DT_STRSZ: i64 = 10;
const DT_JMPREL: i64 = 23;

#[cfg(target_arch = "x86_64")]
const SLOT_RELOCATIONS: [u32; 2] = [6, 7]; // R_X86_64_GLOB_DAT, R_X86_64_JUMP_SLOT
#[cfg(target_arch = "aarch64")]
const SLOT_RELOCATIONS: [u32; 2] = [1025, 1026]; // R_AARCH64_GLOB_DAT, R_AARCH64_JUMP_SLOT

/// Objects left as they are: the C library and the loader define these functions, and our
/// replacements call the originals through them.
const UNTOUCHED: [&str; 4] = ["libc.so", "libpthread.so", "ld-linux", "linux-vdso"];

/// One imported function and the address calls to it should reach instead.
pub struct Redirect {
    /// The symbol's name, as the importing objects spell it.
    pub symbol: &'static CStr,
    /// The replacement's address.
    pub to: usize,
}

struct Walk<'a> {
    redirects: &'a [Redirect],
    patched: usize,
}

/// Points every loaded object's import slots of `redirects`' symbols at their replacements
/// (but the C library's and the loader's own). Returns how many slots were rewritten.
///
/// Only for a process with one thread: another thread could be calling through a slot while
/// it changes.
pub fn redirect_imports(redirects: &[Redirect]) -> usize {
    let mut walk = Walk {
        redirects,
        patched: 0,
    };
    // SAFETY: the callback only reads the loader's records of loaded objects, which stay
    // mapped while dl_iterate_phdr holds the loader's lock, and `walk` outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(visit_object), &mut walk as *mut Walk as *mut c_void) };
    walk.patched
}

unsafe extern "C" fn visit_object(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut c_void,
) -> c_int {
    // SAFETY: dl_iterate_phdr passes a valid record, and `data` is the Walk given above.
    let (info, walk) = unsafe { (&*info, &mut *(data as *mut Walk)) };
    let name = if info.dlpi_name.is_null() {
        ""
    } else {
        // SAFETY: the loader's object names are NUL-terminated strings.
        unsafe { CStr::from_ptr(info.dlpi_name) }
            .to_str()
            .unwrap_or("")
    };
    if UNTOUCHED.iter().any(|skip| name.contains(skip)) {
        return 0;
    }
    // SAFETY: dlpi_phdr points at dlpi_phnum program headers of a loaded object.
    let headers = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    let base = info.dlpi_addr as usize;
    if let Some(dynamic) = headers.iter().find(|h| h.p_type == libc::PT_DYNAMIC) {
        // SAFETY: PT_DYNAMIC of a loaded object is mapped at base + p_vaddr.
        walk.patched += unsafe {
            patch_object(
                base,
                (base + dynamic.p_vaddr as usize) as *const Dyn,
                walk.redirects,
            )
        };
    }
    0
}

/// An address from the dynamic section: the loader has made most of them absolute, but
/// some C libraries leave them relative to the object's base.
fn absolute(base: usize, value: u64) -> usize {
    let value = value as usize;
    if value < base {
        base + value
    } else {
        value
    }
}

/// Rewrites the matching slots of one object; returns how many.
///
/// # Safety
/// `dynamic` must be the dynamic section of an object loaded at `base`.
unsafe fn patch_object(base: usize, dynamic: *const Dyn, redirects: &[Redirect]) -> usize {
    let (mut strtab, mut strsz, mut symtab) = (0usize, 0usize, 0usize);
    let (mut jmprel, mut pltrelsz, mut rela, mut relasz) = (0usize, 0usize, 0usize, 0usize);
    let mut entry = dynamic;
    loop {
        // SAFETY: the dynamic section is an array ending with DT_NULL.
        let d = unsafe { &*entry };
        match d.tag {
            DT_NULL => break,
            DT_STRTAB => strtab = absolute(base, d.val),
            DT_STRSZ => strsz = d.val as usize,
            DT_SYMTAB => symtab = absolute(base, d.val),
            DT_JMPREL => jmprel = absolute(base, d.val),
            DT_PLTRELSZ => pltrelsz = d.val as usize,
            DT_RELA => rela = absolute(base, d.val),
            DT_RELASZ => relasz = d.val as usize,
            _ => {}
        }
        // SAFETY: still within the array: the DT_NULL entry has not been reached.
        entry = unsafe { entry.add(1) };
    }
    if strtab == 0 || symtab == 0 {
        return 0;
    }
    let tables = Tables {
        base,
        strtab,
        strsz,
        symtab,
    };
    let mut patched = 0;
    for (start, bytes) in [(jmprel, pltrelsz), (rela, relasz)] {
        if start == 0 || bytes == 0 {
            continue;
        }
        // SAFETY: DT_JMPREL/DT_RELA name arrays of Elf64_Rela of the given byte sizes.
        let relocations = unsafe {
            std::slice::from_raw_parts(start as *const Rela, bytes / std::mem::size_of::<Rela>())
        };
        for r in relocations {
            // SAFETY: the tables are the object's own; the relocation is one of its entries.
            patched += unsafe { tables.patch_slot(r, redirects) } as usize;
        }
    }
    patched
}

/// The symbol and string tables of one object.
struct Tables {
    base: usize,
    strtab: usize,
    strsz: usize,
    symtab: usize,
}

impl Tables {
    /// Rewrites the slot of relocation `r` if it imports one of `redirects`' symbols.
    ///
    /// # Safety
    /// `r` must be a relocation of the object these tables belong to.
    unsafe fn patch_slot(&self, r: &Rela, redirects: &[Redirect]) -> bool {
        if !SLOT_RELOCATIONS.contains(&((r.info & 0xffff_ffff) as u32)) {
            return false;
        }
        let index = (r.info >> 32) as usize;
        if index == 0 {
            return false;
        }
        // SAFETY: a slot relocation's symbol index is within the object's symbol table.
        let sym = unsafe { &*(self.symtab as *const Sym).add(index) };
        if sym.name as usize >= self.strsz {
            return false;
        }
        // SAFETY: st_name is an offset into the string table, checked against its size.
        let name =
            unsafe { CStr::from_ptr((self.strtab + sym.name as usize) as *const libc::c_char) };
        let Some(redirect) = redirects.iter().find(|x| x.symbol == name) else {
            return false;
        };
        let slot = (self.base + r.offset as usize) as *mut usize;
        // SAFETY: the slot is a pointer-sized word of the object's GOT, made writable first
        // (full RELRO maps it read-only once the loader is done).
        unsafe {
            make_writable(slot as usize) && {
                slot.write_volatile(redirect.to);
                true
            }
        }
    }
}

/// Makes the page holding `address` (and the next, for a slot across pages) writable.
fn make_writable(address: usize) -> bool {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let start = address & !(page - 1);
    let len = (address + std::mem::size_of::<usize>()).next_multiple_of(page) - start;
    // SAFETY: the range covers mapped pages of a loaded object's data; only protections change.
    unsafe {
        libc::mprotect(
            start as *mut c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
        ) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_relative_to_the_base_are_made_absolute() {
        assert_eq!(absolute(0x5000_0000, 0x1234), 0x5000_1234);
        assert_eq!(absolute(0x5000_0000, 0x5000_1234), 0x5000_1234);
        assert_eq!(absolute(0, 0x1234), 0x1234);
    }
}
