;; Batched matrix products for tfjs-wasm's BatchMatMul in the two layouts attention uses, with
;; 128-bit SIMD (4 float32 lanes). The module imports the tfjs-wasm module's own memory, so it
;; reads the operands and writes the result in place on the tfjs heap: no copies.
;; Pointers and batch strides are in bytes; a stride of 0 broadcasts that operand over the batch.
;; Built into operator/training/wasm/matmul-module.ts by `npm run build:wasm` (wabt).
(module
  (import "env" "memory" (memory 1))

  ;; out[t, i, j] = sum_k a[t, i, k] * b[t, j, k]   (A [M, K], B [N, K]: A x B^T, e.g. Q K^T)
  ;; Four columns j at a time share each load of a's row (tail columns one at a time).
  (func (export "mm_nt")
    (param $a i32) (param $b i32) (param $out i32) (param $batch i32)
    (param $M i32) (param $N i32) (param $K i32) (param $aBS i32) (param $bBS i32)
    (local $t i32) (local $i i32) (local $j i32) (local $k i32)
    (local $ap i32) (local $bp i32) (local $arow i32) (local $b0 i32) (local $b1 i32) (local $b2 i32) (local $b3 i32)
    (local $rowBytes i32) (local $K4 i32) (local $o i32)
    (local $va v128) (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $s0 f32) (local $s1 f32) (local $s2 f32) (local $s3 f32) (local $x f32)
    (local.set $rowBytes (i32.shl (local.get $K) (i32.const 2)))
    (local.set $K4 (i32.and (local.get $K) (i32.const -4)))
    (local.set $o (local.get $out))
    (block $bt_end (loop $bt
      (br_if $bt_end (i32.ge_u (local.get $t) (local.get $batch)))
      (local.set $ap (i32.add (local.get $a) (i32.mul (local.get $t) (local.get $aBS))))
      (local.set $bp (i32.add (local.get $b) (i32.mul (local.get $t) (local.get $bBS))))
      (local.set $i (i32.const 0))
      (block $i_end (loop $il
        (br_if $i_end (i32.ge_u (local.get $i) (local.get $M)))
        (local.set $arow (i32.add (local.get $ap) (i32.mul (local.get $i) (local.get $rowBytes))))
        (local.set $j (i32.const 0))
        ;; four columns at a time
        (block $j4_end (loop $j4
          (br_if $j4_end (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $N)))
          (local.set $b0 (i32.add (local.get $bp) (i32.mul (local.get $j) (local.get $rowBytes))))
          (local.set $b1 (i32.add (local.get $b0) (local.get $rowBytes)))
          (local.set $b2 (i32.add (local.get $b1) (local.get $rowBytes)))
          (local.set $b3 (i32.add (local.get $b2) (local.get $rowBytes)))
          (local.set $c0 (v128.const i32x4 0 0 0 0))
          (local.set $c1 (v128.const i32x4 0 0 0 0))
          (local.set $c2 (v128.const i32x4 0 0 0 0))
          (local.set $c3 (v128.const i32x4 0 0 0 0))
          (local.set $k (i32.const 0))
          (block $k_end (loop $kl
            (br_if $k_end (i32.ge_u (local.get $k) (local.get $K4)))
            (local.set $va (v128.load (i32.add (local.get $arow) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $va) (v128.load (i32.add (local.get $b0) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $va) (v128.load (i32.add (local.get $b1) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $va) (v128.load (i32.add (local.get $b2) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $va) (v128.load (i32.add (local.get $b3) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $kl)))
          (local.set $s0 (call $hsum (local.get $c0)))
          (local.set $s1 (call $hsum (local.get $c1)))
          (local.set $s2 (call $hsum (local.get $c2)))
          (local.set $s3 (call $hsum (local.get $c3)))
          ;; the tail of the shared axis (K not a multiple of 4)
          (block $kt_end (loop $kt
            (br_if $kt_end (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $x (f32.load (i32.add (local.get $arow) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $s0 (f32.add (local.get $s0) (f32.mul (local.get $x) (f32.load (i32.add (local.get $b0) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $s1 (f32.add (local.get $s1) (f32.mul (local.get $x) (f32.load (i32.add (local.get $b1) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $s2 (f32.add (local.get $s2) (f32.mul (local.get $x) (f32.load (i32.add (local.get $b2) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $s3 (f32.add (local.get $s3) (f32.mul (local.get $x) (f32.load (i32.add (local.get $b3) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $kt)))
          (f32.store (local.get $o) (local.get $s0))
          (f32.store offset=4 (local.get $o) (local.get $s1))
          (f32.store offset=8 (local.get $o) (local.get $s2))
          (f32.store offset=12 (local.get $o) (local.get $s3))
          (local.set $o (i32.add (local.get $o) (i32.const 16)))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $j4)))
        ;; the remaining columns one at a time
        (block $j1_end (loop $j1
          (br_if $j1_end (i32.ge_u (local.get $j) (local.get $N)))
          (local.set $b0 (i32.add (local.get $bp) (i32.mul (local.get $j) (local.get $rowBytes))))
          (local.set $c0 (v128.const i32x4 0 0 0 0))
          (local.set $k (i32.const 0))
          (block $k1_end (loop $k1
            (br_if $k1_end (i32.ge_u (local.get $k) (local.get $K4)))
            (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul
              (v128.load (i32.add (local.get $arow) (i32.shl (local.get $k) (i32.const 2))))
              (v128.load (i32.add (local.get $b0) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $k1)))
          (local.set $s0 (call $hsum (local.get $c0)))
          (block $kt1_end (loop $kt1
            (br_if $kt1_end (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $s0 (f32.add (local.get $s0) (f32.mul
              (f32.load (i32.add (local.get $arow) (i32.shl (local.get $k) (i32.const 2))))
              (f32.load (i32.add (local.get $b0) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $kt1)))
          (f32.store (local.get $o) (local.get $s0))
          (local.set $o (i32.add (local.get $o) (i32.const 4)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $j1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $il)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $bt))))

  ;; out[t, i, :] = sum_k A[t, i, k] * b[t, k, :]   (B [K, N]: A x B, e.g. P V; or Aᵀ x B)
  ;; A's element (i, k) is at a + t*aBS + i*aRS + k*aCS bytes: A [M, K] row-major has aRS = 4K,
  ;; aCS = 4; a transposed A stored [K, M] (a gradient's Aᵀ B) has aRS = 4, aCS = 4M.
  ;; A row of the output accumulates in place, 4 columns per SIMD lane group, 4 rows of B per
  ;; pass over it (one load and store of the output for 4 products).
  (func (export "mm_xn")
    (param $a i32) (param $b i32) (param $out i32) (param $batch i32)
    (param $M i32) (param $N i32) (param $K i32) (param $aBS i32) (param $bBS i32)
    (param $aRS i32) (param $aCS i32)
    (local $t i32) (local $i i32) (local $j i32) (local $k i32)
    (local $ap i32) (local $bp i32) (local $orow i32) (local $brow i32) (local $p i32) (local $jb i32)
    (local $N4 i32) (local $K4 i32) (local $rowBytes i32) (local $x f32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $x0 f32) (local $x1 f32) (local $x2 f32) (local $x3 f32)
    (local.set $N4 (i32.and (local.get $N) (i32.const -4)))
    (local.set $K4 (i32.and (local.get $K) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $N) (i32.const 2)))
    (local.set $orow (local.get $out))
    (block $bt_end (loop $bt
      (br_if $bt_end (i32.ge_u (local.get $t) (local.get $batch)))
      (local.set $ap (i32.add (local.get $a) (i32.mul (local.get $t) (local.get $aBS))))
      (local.set $bp (i32.add (local.get $b) (i32.mul (local.get $t) (local.get $bBS))))
      (local.set $i (i32.const 0))
      (block $i_end (loop $il
        (br_if $i_end (i32.ge_u (local.get $i) (local.get $M)))
        ;; zero the output row
        (local.set $j (i32.const 0))
        (block $z_end (loop $z
          (br_if $z_end (i32.ge_u (local.get $j) (local.get $N)))
          (f32.store (i32.add (local.get $orow) (i32.shl (local.get $j) (i32.const 2))) (f32.const 0))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $z)))
        (local.set $k (i32.const 0))
        (local.set $p (i32.add (local.get $ap) (i32.mul (local.get $i) (local.get $aRS))))
        (local.set $brow (local.get $bp))
        ;; four rows of B at a time
        (block $k4_end (loop $k4
          (br_if $k4_end (i32.ge_u (local.get $k) (local.get $K4)))
          (local.set $x0 (f32.load (local.get $p)))
          (local.set $x1 (f32.load (i32.add (local.get $p) (local.get $aCS))))
          (local.set $x2 (f32.load (i32.add (local.get $p) (i32.shl (local.get $aCS) (i32.const 1)))))
          (local.set $x3 (f32.load (i32.add (local.get $p) (i32.mul (local.get $aCS) (i32.const 3)))))
          (local.set $v0 (f32x4.splat (local.get $x0)))
          (local.set $v1 (f32x4.splat (local.get $x1)))
          (local.set $v2 (f32x4.splat (local.get $x2)))
          (local.set $v3 (f32x4.splat (local.get $x3)))
          (local.set $j (i32.const 0))
          (block $j4_end (loop $j4
            (br_if $j4_end (i32.ge_u (local.get $j) (local.get $N4)))
            (local.set $jb (i32.add (local.get $brow) (i32.shl (local.get $j) (i32.const 2))))
            (v128.store (i32.add (local.get $orow) (i32.shl (local.get $j) (i32.const 2)))
              (f32x4.add
                (f32x4.add
                  (v128.load (i32.add (local.get $orow) (i32.shl (local.get $j) (i32.const 2))))
                  (f32x4.add
                    (f32x4.mul (local.get $v0) (v128.load (local.get $jb)))
                    (f32x4.mul (local.get $v1) (v128.load (i32.add (local.get $jb) (local.get $rowBytes))))))
                (f32x4.add
                  (f32x4.mul (local.get $v2) (v128.load (i32.add (local.get $jb) (i32.shl (local.get $rowBytes) (i32.const 1)))))
                  (f32x4.mul (local.get $v3) (v128.load (i32.add (local.get $jb) (i32.mul (local.get $rowBytes) (i32.const 3))))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $j4)))
          (block $j1_end (loop $j1
            (br_if $j1_end (i32.ge_u (local.get $j) (local.get $N)))
            (local.set $jb (i32.add (local.get $brow) (i32.shl (local.get $j) (i32.const 2))))
            (f32.store (i32.add (local.get $orow) (i32.shl (local.get $j) (i32.const 2)))
              (f32.add
                (f32.add
                  (f32.load (i32.add (local.get $orow) (i32.shl (local.get $j) (i32.const 2))))
                  (f32.add
                    (f32.mul (local.get $x0) (f32.load (local.get $jb)))
                    (f32.mul (local.get $x1) (f32.load (i32.add (local.get $jb) (local.get $rowBytes))))))
                (f32.add
                  (f32.mul (local.get $x2) (f32.load (i32.add (local.get $jb) (i32.shl (local.get $rowBytes) (i32.const 1)))))
                  (f32.mul (local.get $x3) (f32.load (i32.add (local.get $jb) (i32.mul (local.get $rowBytes) (i32.const 3))))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $j1)))
          (local.set $p (i32.add (local.get $p) (i32.shl (local.get $aCS) (i32.const 2))))
          (local.set $brow (i32.add (local.get $brow) (i32.shl (local.get $rowBytes) (i32.const 2))))
          (local.set $k (i32.add (local.get $k) (i32.const 4)))
          (br $k4)))
        ;; the remaining rows of B one at a time
        (block $k_end (loop $kl
          (br_if $k_end (i32.ge_u (local.get $k) (local.get $K)))
          (local.set $x (f32.load (local.get $p)))
          (local.set $v0 (f32x4.splat (local.get $x)))
          (local.set $j (i32.const 0))
          (block $jj4_end (loop $jj4
            (br_if $jj4_end (i32.ge_u (local.get $j) (local.get $N4)))
            (v128.store (i32.add (local.get $orow) (i32.shl (local.get $j) (i32.const 2)))
              (f32x4.add
                (v128.load (i32.add (local.get $orow) (i32.shl (local.get $j) (i32.const 2))))
                (f32x4.mul (local.get $v0) (v128.load (i32.add (local.get $brow) (i32.shl (local.get $j) (i32.const 2)))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $jj4)))
          (block $jj1_end (loop $jj1
            (br_if $jj1_end (i32.ge_u (local.get $j) (local.get $N)))
            (f32.store (i32.add (local.get $orow) (i32.shl (local.get $j) (i32.const 2)))
              (f32.add
                (f32.load (i32.add (local.get $orow) (i32.shl (local.get $j) (i32.const 2))))
                (f32.mul (local.get $x) (f32.load (i32.add (local.get $brow) (i32.shl (local.get $j) (i32.const 2)))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $jj1)))
          (local.set $p (i32.add (local.get $p) (local.get $aCS)))
          (local.set $brow (i32.add (local.get $brow) (local.get $rowBytes)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $kl)))
        (local.set $orow (i32.add (local.get $orow) (local.get $rowBytes)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $il)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $bt))))

  ;; the sum of the four lanes
  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))
)
