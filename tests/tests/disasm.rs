//! Instruction checks on the optimised kernels linked into this test binary (the
//! runtime is built at opt-level 3 even in test builds): the AVX-512 micro-kernel's
//! inner loop is zmm `vfmadd231ps` with no spills and no calls (the packed
//! instance's without per-row address arithmetic), the k loops of the
//! AVX-512 VNNI int8 and BF16 dot-product kernels are zmm `vpdpbusd` and
//! `vdpbf16ps` with no spills, and the int8 kernels without VNNI use no
//! saturating `vpmaddubsw`. Needs `nm` and `objdump` (binutils).
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use std::process::Command;

#[derive(Clone)]
struct Insn {
    addr: u64,
    text: String,
}

fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{name}` ({e}); install binutils"));
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The disassembly of `gemmkit::generated::<module>::<function>` in this binary.
fn disassemble(module: &str, function: &str) -> Vec<Insn> {
    let exe = std::env::current_exe().expect("test binary");
    let exe = exe.to_str().expect("utf-8 path");
    let suffix = format!("::{module}::{function}");
    let symbols = tool("nm", &["-C", "-S", "--defined-only", exe]);
    let (addr, size) = symbols
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(4, ' ');
            let (addr, size, _kind, name) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
            let name = name.split("::h").next()?;
            name.ends_with(&suffix)
                .then(|| (u64::from_str_radix(addr, 16).ok(), u64::from_str_radix(size, 16).ok()))
        })
        .find_map(|(a, s)| a.zip(s))
        .unwrap_or_else(|| panic!("symbol {suffix} not found in the test binary"));
    let start = format!("--start-address=0x{addr:x}");
    let stop = format!("--stop-address=0x{:x}", addr + size);
    tool("objdump", &["-d", "--no-show-raw-insn", &start, &stop, exe])
        .lines()
        .filter_map(|l| {
            let (a, rest) = l.trim_start().split_once(":\t")?;
            Some(Insn {
                addr: u64::from_str_radix(a, 16).ok()?,
                text: rest.trim().to_string(),
            })
        })
        .collect()
}

/// Jump target of a branch instruction, if any.
fn branch_target(i: &Insn) -> Option<u64> {
    if !i.text.starts_with('j') {
        return None;
    }
    let hex = i.text.split_whitespace().nth(1)?;
    u64::from_str_radix(hex.trim_start_matches("0x"), 16).ok()
}

/// The loop (backward branch) with the most instructions matching `pred`.
fn hottest_loop(code: &[Insn], pred: impl Fn(&str) -> bool) -> &[Insn] {
    let mut best: &[Insn] = &[];
    let mut best_count = 0;
    for (end, insn) in code.iter().enumerate() {
        let Some(target) = branch_target(insn).filter(|t| *t <= insn.addr) else {
            continue;
        };
        let Some(start) = code.iter().position(|i| i.addr == target) else {
            continue;
        };
        let body = &code[start..=end];
        let count = body.iter().filter(|i| pred(&i.text)).count();
        if count > best_count {
            (best, best_count) = (body, count);
        }
    }
    best
}

fn listing(code: &[Insn]) -> String {
    code.iter().map(|i| format!("{:x}: {}\n", i.addr, i.text)).collect()
}

#[test]
fn avx512_microkernel_inner_loop_is_zmm_fma_without_spills() {
    use gemmkit::generated::avx512::{F32_LANES, F32_MR, F32_NR, microkernel_f32};
    // Keep the kernel referenced so it is linked in.
    std::hint::black_box(microkernel_f32 as *const ());
    let body = check_fma_loop("microkernel_f32", F32_MR * F32_NR / F32_LANES);
    // One fetch of B's next block into L2 a step of k (`prefetch_far`).
    let steps = k_steps(&body, F32_MR * F32_NR / F32_LANES);
    let far = body.iter().filter(|i| i.text.starts_with("prefetcht1")).count();
    assert_eq!(far, steps, "expected one prefetcht1 a step of k:\n{}", listing(&body));
}

#[test]
fn avx512_narrow_microkernel_inner_loop_is_zmm_fma_without_spills() {
    use gemmkit::generated::avx512::{F32_MR, microkernel_narrow_f32};
    std::hint::black_box(microkernel_narrow_f32 as *const ());
    check_fma_loop("microkernel_narrow_f32", F32_MR);
}

#[test]
fn avx512_two_and_three_vector_microkernels_inner_loops_are_zmm_fma_without_spills() {
    use gemmkit::generated::avx512::{F32_MR, microkernel_three_f32, microkernel_two_f32};
    std::hint::black_box(microkernel_two_f32 as *const ());
    std::hint::black_box(microkernel_three_f32 as *const ());
    check_fma_loop("microkernel_two_f32", F32_MR * 2);
    check_fma_loop("microkernel_three_f32", F32_MR * 3);
}

#[test]
fn avx512_short_microkernel_inner_loop_is_zmm_fma_without_spills() {
    use gemmkit::generated::avx512::{F32_LANES, F32_MR, F32_NR, microkernel_short_f32};
    std::hint::black_box(microkernel_short_f32 as *const ());
    check_fma_loop("microkernel_short_f32", F32_MR / 2 * F32_NR / F32_LANES);
}

#[test]
fn avx512_packed_microkernel_reads_a_at_constant_offsets() {
    use gemmkit::generated::avx512::{F32_LANES, F32_MR, F32_NR, microkernel_packed_f32};
    std::hint::black_box(microkernel_packed_f32 as *const ());
    let body = check_fma_loop("microkernel_packed_f32", F32_MR * F32_NR / F32_LANES);
    // A packed panel's strides are constants: A, B and the fetch of B's next
    // block each advance by one pointer per step, with no address computed per
    // row (the in-place instance spends one per row and step: 12 for AVX-512 f32).
    let address_ops = body
        .iter()
        .filter(|i| {
            ["add", "sub", "lea", "inc", "dec"]
                .iter()
                .any(|p| i.text.starts_with(p))
        })
        .count();
    let steps = k_steps(&body, F32_MR * F32_NR / F32_LANES);
    assert!(
        address_ops <= 4 * steps,
        "{address_ops} address operations for {steps} k steps:\n{}",
        listing(&body)
    );
}

/// Steps of k in a loop `body` of a kernel with `shape` FMAs a step.
fn k_steps(body: &[Insn], shape: usize) -> usize {
    body.iter().filter(|i| i.text.starts_with("vfmadd")).count() / shape
}

/// The hottest loop of the AVX-512 kernel `function` is a multiple of `shape` zmm
/// FMAs plus loads, broadcasts and loop control: no spills, no calls.
fn check_fma_loop(function: &str, shape: usize) -> Vec<Insn> {
    let code = disassemble("avx512", function);
    let is_fma = |t: &str| t.starts_with("vfmadd231ps") && t.contains("%zmm");
    let body = hottest_loop(&code, is_fma).to_vec();
    let fmas = body.iter().filter(|i| is_fma(&i.text)).count();
    let text = listing(&body);
    if std::env::var_os("SHOW_DISASM").is_some() {
        eprintln!("{text}");
    }
    assert!(
        fmas >= shape && fmas % shape == 0,
        "expected a multiple of {shape} zmm FMAs in the inner loop, found {fmas}:\n{text}"
    );
    for i in &body {
        let t = &i.text;
        assert!(
            !t.contains("(%rsp)") && !t.contains("(%rbp)"),
            "stack access (spill) in the inner loop: `{t}`\n{text}"
        );
        assert!(!t.starts_with("call"), "call in the inner loop: `{t}`\n{text}");
        let arithmetic = [
            "vfmadd",
            "vbroadcast",
            "vmovups",
            "add",
            "sub",
            "inc",
            "dec",
            "cmp",
            "lea",
            "mov",
            "j",
            "nop",
            "vmovaps",
            "prefetcht1",
        ];
        assert!(
            arithmetic.iter().any(|p| t.starts_with(p)),
            "unexpected instruction in the inner loop: `{t}`\n{text}"
        );
    }
    body
}

/// The hottest loop of the kernel `function` of `module` (the `k` loop of a
/// dot-product micro-kernel) is a multiple of `shape` zmm `insn`s (`vpdpbusd`,
/// `vdpbf16ps`) plus loads, broadcasts and loop control: no spills (no stack
/// access), no calls, nothing else.
fn check_dot_loop(module: &str, function: &str, insn: &str, shape: usize) {
    let code = disassemble(module, function);
    let is_dot = |t: &str| t.starts_with(insn) && t.contains("%zmm");
    let body = hottest_loop(&code, is_dot);
    let dots = body.iter().filter(|i| is_dot(&i.text)).count();
    let text = listing(body);
    if std::env::var_os("SHOW_DISASM").is_some() {
        eprintln!("{module}::{function}:\n{text}");
    }
    assert!(
        dots >= shape && dots % shape == 0,
        "{module}::{function}: expected a multiple of {shape} zmm {insn} in the k loop, found {dots}:\n{text}"
    );
    for i in body {
        let t = &i.text;
        assert!(
            !t.contains("(%rsp)") && !t.contains("(%rbp)"),
            "{module}::{function}: stack access (spill) in the k loop: `{t}`\n{text}"
        );
        assert!(
            !t.starts_with("call"),
            "{module}::{function}: call in the k loop: `{t}`\n{text}"
        );
        let allowed = [
            insn,
            "vpbroadcastd",
            "vbroadcastss",
            "vmovdqu",
            "vmovups",
            "add",
            "sub",
            "inc",
            "dec",
            "cmp",
            "lea",
            "mov",
            "j",
            "nop",
        ];
        assert!(
            allowed.iter().any(|p| t.starts_with(p)),
            "{module}::{function}: unexpected instruction in the k loop: `{t}`\n{text}"
        );
    }
}

#[test]
fn avx512_vnni_int8_kernels_k_loop_is_zmm_vpdpbusd_without_spills() {
    use gemmkit::generated::avx512_vnni::{
        U8I8_LANES, U8I8_MR, U8I8_NR, microkernel_dot_comp_u8i8, microkernel_dot_u8i8,
    };
    std::hint::black_box(microkernel_dot_u8i8 as *const ());
    std::hint::black_box(microkernel_dot_comp_u8i8 as *const ());
    let shape = U8I8_MR * U8I8_NR / U8I8_LANES;
    check_dot_loop("avx512_vnni", "microkernel_dot_u8i8", "vpdpbusd", shape);
    check_dot_loop("avx512_vnni", "microkernel_dot_comp_u8i8", "vpdpbusd", shape);
}

#[test]
fn avx512_bf16_kernels_k_loop_is_zmm_vdpbf16ps_without_spills() {
    use gemmkit::generated::avx512_bf16::{
        BF16_LANES, BF16_MR, BF16_NR, microkernel_dot_bf16, microkernel_dot_comp_bf16,
    };
    std::hint::black_box(microkernel_dot_bf16 as *const ());
    std::hint::black_box(microkernel_dot_comp_bf16 as *const ());
    let shape = BF16_MR * BF16_NR / BF16_LANES;
    check_dot_loop("avx512_bf16", "microkernel_dot_bf16", "vdpbf16ps", shape);
    check_dot_loop("avx512_bf16", "microkernel_dot_comp_bf16", "vdpbf16ps", shape);
}

#[test]
fn avx_vnni_int8_kernel_uses_vex_vpdpbusd_on_ymm() {
    std::hint::black_box(gemmkit::generated::avx_vnni::microkernel_dot_u8i8 as *const ());
    let code = disassemble("avx_vnni", "microkernel_dot_u8i8");
    let dots = code
        .iter()
        .filter(|i| i.text.contains("vpdpbusd") && i.text.contains("%ymm"))
        .count();
    assert!(dots > 0, "no ymm vpdpbusd:\n{}", listing(&code));
}

/// Without VNNI the u8 x i8 products are summed exactly (`vpmaddwd` on bytes
/// widened to 16 bits): never `vpdpbusd`, and never the saturating
/// `vpmaddubsw`, whose pairwise i16 sums overflow at 255 * -128 * 2.
#[test]
fn int8_kernels_without_vnni_use_the_exact_vpmaddwd_emulation() {
    std::hint::black_box(gemmkit::generated::avx512::microkernel_dot_u8i8 as *const ());
    std::hint::black_box(gemmkit::generated::avx512::microkernel_dot_comp_u8i8 as *const ());
    std::hint::black_box(gemmkit::generated::avx2::microkernel_dot_u8i8 as *const ());
    std::hint::black_box(gemmkit::generated::avx2::microkernel_dot_comp_u8i8 as *const ());
    for (module, function) in [
        ("avx512", "microkernel_dot_u8i8"),
        ("avx512", "microkernel_dot_comp_u8i8"),
        ("avx2", "microkernel_dot_u8i8"),
        ("avx2", "microkernel_dot_comp_u8i8"),
    ] {
        let code = disassemble(module, function);
        for i in &code {
            assert!(
                !i.text.contains("vpdpbusd") && !i.text.contains("pmaddubsw"),
                "{module}::{function}: `{}`: no VNNI there, and no saturating vpmaddubsw",
                i.text
            );
        }
        assert!(
            code.iter().any(|i| i.text.starts_with("vpmaddwd")),
            "{module}::{function}: expected the exact vpmaddwd emulation"
        );
    }
}
