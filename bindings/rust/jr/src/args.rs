// SPDX-License-Identifier: MIT
//! Argument vectors for the C calls, without allocating for short commands.
use std::ffi::c_char;

const INLINE: usize = 8;

/// argv/argvlen arrays borrowing the caller's arguments.
pub(crate) struct ArgBuf {
    n: usize,
    inline_argv: [*const c_char; INLINE],
    inline_lens: [usize; INLINE],
    heap: Option<(Vec<*const c_char>, Vec<usize>)>,
}

impl ArgBuf {
    pub(crate) fn new<A: AsRef<[u8]>>(args: &[A]) -> ArgBuf {
        let mut b = ArgBuf {
            n: args.len(),
            inline_argv: [std::ptr::null(); INLINE],
            inline_lens: [0; INLINE],
            heap: None,
        };
        // An empty slice's pointer is dangling but non-null: fine for a
        // zero-length argument.
        if args.len() <= INLINE {
            for (i, a) in args.iter().enumerate() {
                let a = a.as_ref();
                b.inline_argv[i] = a.as_ptr().cast();
                b.inline_lens[i] = a.len();
            }
        } else {
            let argv = args.iter().map(|a| a.as_ref().as_ptr().cast()).collect();
            let lens = args.iter().map(|a| a.as_ref().len()).collect();
            b.heap = Some((argv, lens));
        }
        b
    }
    pub(crate) fn len(&self) -> usize {
        self.n
    }
    pub(crate) fn argv(&self) -> *const *const c_char {
        match &self.heap {
            Some((a, _)) => a.as_ptr(),
            None => self.inline_argv.as_ptr(),
        }
    }
    pub(crate) fn lens(&self) -> *const usize {
        match &self.heap {
            Some((_, l)) => l.as_ptr(),
            None => self.inline_lens.as_ptr(),
        }
    }
}
