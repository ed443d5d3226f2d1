//! The two one-sided tests behind alerts, and the special functions they
//! need (no statistics crate: two functions do not justify a dependency).
//!
//! **Volume** (documents per window): the baseline is the counts
//! `c_1..c_N` of the `N` windows just before the tested one, with mean `m`
//! and sample variance `s²`. News volume is overdispersed (a slow week, a
//! busy week), so the count is treated as quasi-Poisson with dispersion
//! `φ = max(1, s²/m)`, inflated by `(1 + 1/N)` because `m` is itself
//! estimated from `N` windows. The p-value is the scaled Poisson tail
//! `P(Poisson(λ/φ') ≥ x/φ')` with `λ = max(m, 0.5/N)` (the floor keeps an
//! empty baseline from making any single document "infinitely" unlikely),
//! computed as the regularized lower incomplete gamma function `P(x/φ',
//! λ/φ')`, which is that tail for integer `x/φ'` and interpolates it
//! otherwise. The reported statistic is `z = (x − λ) / sqrt(φ' λ)`.
//!
//! **Label share** (labelled documents / classified documents): a one-sided
//! two-proportion z-test of the window share `k/n` against the pooled
//! baseline share `K/M`, with the pooled standard error, divided by
//! `sqrt(φ)` where `φ = max(1, χ²/(W−1))` is the quasi-binomial dispersion
//! of the baseline's per-window shares (a share that swings naturally from
//! day to day needs a bigger jump). `p = 1 − Φ(z)`.
//!
//! Both tests are paired with minimum counts and an effect-size floor in
//! [`crate::eval`], so tiny counts (2 of 3 against 10 of 100) never fire.

/// Natural log of the gamma function (Lanczos, g = 7, n = 9; relative error
/// below 1e-13 for x > 0).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the approximation in its accurate range.
        let s = (std::f64::consts::PI * x).sin();
        return std::f64::consts::PI.ln() - s.abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularized lower incomplete gamma function `P(a, x)` for `a > 0`,
/// `x >= 0` (series below `a + 1`, Lentz continued fraction above).
/// Out-of-domain arguments give NaN.
pub fn gamma_p(a: f64, x: f64) -> f64 {
    if a.is_nan() || a <= 0.0 || !a.is_finite() || x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return 0.0;
    }
    if x.is_infinite() {
        return 1.0;
    }
    let ln_prefix = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        let mut term = 1.0 / a;
        let mut sum = term;
        let mut ap = a;
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        (sum.ln() + ln_prefix).exp().clamp(0.0, 1.0)
    } else {
        1.0 - gamma_q_cf(a, x, ln_prefix)
    }
}

/// Upper tail `Q(a, x) = 1 − P(a, x)` by continued fraction, accurate
/// where `P` is close to 1.
fn gamma_q_cf(a: f64, x: f64, ln_prefix: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..10_000 {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    (ln_prefix.exp() * h).clamp(0.0, 1.0)
}

/// Upper regularized incomplete gamma `Q(a, x)`, accurate in the far tail.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if a.is_nan() || a <= 0.0 || !a.is_finite() || x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    if x < a + 1.0 {
        1.0 - gamma_p(a, x)
    } else {
        gamma_q_cf(a, x, a * x.ln() - x - ln_gamma(a))
    }
}

/// Upper tail of the standard normal distribution, `1 − Φ(z)`, accurate
/// far into the tail (via `erfc(t) = Q(1/2, t²)`).
pub fn normal_sf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    let t = z / std::f64::consts::SQRT_2;
    if t >= 0.0 {
        0.5 * gamma_q(0.5, t * t)
    } else {
        1.0 - 0.5 * gamma_q(0.5, t * t)
    }
}

/// Result of the volume test.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct VolumeStats {
    /// Documents in the tested window.
    pub observed: u64,
    /// Mean count of the baseline windows.
    pub baseline_mean: f64,
    /// Sample variance of the baseline counts.
    pub baseline_variance: f64,
    /// Expected count used by the test (`max(mean, 0.5/N)`).
    pub expected: f64,
    /// Dispersion `φ' = max(1, s²/m) · (1 + 1/N)`.
    pub dispersion: f64,
    /// `(x − λ) / sqrt(φ' λ)`.
    pub z: f64,
    /// One-sided p-value.
    pub p_value: f64,
}

/// Mean and sample variance (0 with fewer than two values).
fn mean_var(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var)
}

/// Tests whether `observed` is significantly above the baseline counts
/// (quasi-Poisson tail; see the module docs). `baseline` must hold one
/// count per baseline window, zeros included; an empty baseline is treated
/// as one empty window.
pub fn volume_test(observed: u64, baseline: &[u64]) -> VolumeStats {
    let xs: Vec<f64> = baseline.iter().map(|&c| c as f64).collect();
    let n = xs.len().max(1) as f64;
    let (mean, var) = mean_var(&xs);
    let expected = mean.max(0.5 / n);
    let dispersion = (var / expected).max(1.0) * (1.0 + 1.0 / n);
    let x = observed as f64;
    let z = (x - expected) / (dispersion * expected).sqrt();
    let p_value = if observed == 0 {
        1.0
    } else {
        gamma_p(x / dispersion, expected / dispersion)
    };
    VolumeStats {
        observed,
        baseline_mean: mean,
        baseline_variance: var,
        expected,
        dispersion,
        z,
        p_value,
    }
}

/// Result of the share test.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ShareStats {
    /// Labelled documents in the window.
    pub window_labelled: u64,
    /// Classified documents in the window.
    pub window_documents: u64,
    /// Labelled documents in the baseline.
    pub baseline_labelled: u64,
    /// Classified documents in the baseline.
    pub baseline_documents: u64,
    /// Share in the window (0 without documents).
    pub window_share: f64,
    /// Pooled share in the baseline (0 without documents).
    pub baseline_share: f64,
    /// Quasi-binomial dispersion of the baseline's per-window shares (>= 1).
    pub dispersion: f64,
    /// Two-proportion z, divided by `sqrt(dispersion)`.
    pub z: f64,
    /// One-sided p-value `1 − Φ(z)`.
    pub p_value: f64,
}

/// Tests whether the share `k/n` in the window is significantly above the
/// baseline share. `baseline` holds `(labelled, documents)` per baseline
/// window (see the module docs).
pub fn share_test(k: u64, n: u64, baseline: &[(u64, u64)]) -> ShareStats {
    let kb: u64 = baseline.iter().map(|w| w.0).sum();
    let nb: u64 = baseline.iter().map(|w| w.1).sum();
    let p1 = if n > 0 { k as f64 / n as f64 } else { 0.0 };
    let p0 = if nb > 0 { kb as f64 / nb as f64 } else { 0.0 };
    // Pearson χ² of the baseline windows around their pooled share.
    let mut chi2 = 0.0;
    let mut used = 0u32;
    if p0 > 0.0 && p0 < 1.0 {
        for &(ki, ni) in baseline.iter().filter(|w| w.1 > 0) {
            let e = ni as f64 * p0;
            chi2 += (ki as f64 - e).powi(2) / (e * (1.0 - p0));
            used += 1;
        }
    }
    let dispersion = if used > 1 {
        (chi2 / f64::from(used - 1)).max(1.0)
    } else {
        1.0
    };
    let (z, p_value) = if n == 0 || nb == 0 {
        (0.0, 1.0)
    } else {
        let pooled = (k + kb) as f64 / (n + nb) as f64;
        let se = (pooled * (1.0 - pooled) * (1.0 / n as f64 + 1.0 / nb as f64)).sqrt();
        if se > 0.0 {
            let z = (p1 - p0) / se / dispersion.sqrt();
            (z, normal_sf(z))
        } else {
            // Every document, window and baseline, has the label or none
            // does: the share cannot have risen.
            (0.0, 1.0)
        }
    };
    ShareStats {
        window_labelled: k,
        window_documents: n,
        baseline_labelled: kb,
        baseline_documents: nb,
        window_share: p1,
        baseline_share: p0,
        dispersion,
        z,
        p_value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300) || (a - b).abs() < 1e-13
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0f64;
        for n in 1..30u32 {
            assert!(close(ln_gamma(f64::from(n)), f.ln(), 1e-12), "n={n}");
            f *= f64::from(n);
        }
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-12
        ));
    }

    #[test]
    fn gamma_p_is_the_poisson_tail() {
        // P(Poisson(mu) >= k) = P(k, mu): compare with the direct sum.
        for &(k, mu) in &[(1u32, 0.3f64), (5, 2.0), (12, 4.5), (30, 10.0), (3, 20.0)] {
            let mut below = 0.0;
            let mut term = (-mu).exp();
            for i in 0..k {
                below += term;
                term *= mu / f64::from(i + 1);
            }
            let want = 1.0 - below;
            let got = gamma_p(f64::from(k), mu);
            assert!(close(got, want, 1e-9), "k={k} mu={mu}: {got} vs {want}");
        }
        assert!(gamma_p(-1.0, 1.0).is_nan());
        assert_eq!(gamma_p(2.0, 0.0), 0.0);
    }

    #[test]
    fn normal_tail_known_values() {
        assert!(close(normal_sf(0.0), 0.5, 1e-12));
        assert!(close(normal_sf(1.959_963_984_540_054), 0.025, 1e-9));
        assert!(close(normal_sf(-1.644_853_626_951_472_2), 0.95, 1e-9));
        // Far tail stays accurate instead of rounding to 0.
        assert!(close(normal_sf(8.0), 6.220_960_574_271_785e-16, 1e-6));
    }

    #[test]
    fn stable_volume_is_not_significant_and_a_spike_is() {
        let base = [10, 12, 9, 11, 10, 8, 13, 10, 11, 9, 12, 10, 10, 11];
        let s = volume_test(12, &base);
        assert!(s.p_value > 0.1, "{s:?}");
        let s = volume_test(40, &base);
        assert!(s.p_value < 1e-6, "{s:?}");
        assert!(s.z > 5.0);
    }

    #[test]
    fn overdispersed_baseline_needs_a_bigger_jump() {
        let calm = [20, 20, 21, 19, 20, 20, 20];
        let wild = [5, 40, 10, 35, 8, 30, 12];
        let (a, b) = (volume_test(36, &calm), volume_test(36, &wild));
        assert!(b.dispersion > a.dispersion);
        assert!(a.p_value < 0.01, "{a:?}");
        assert!(b.p_value > 0.05, "{b:?}");
    }

    #[test]
    fn empty_baseline_uses_a_floor_not_zero() {
        let s = volume_test(1, &[0; 7]);
        assert!(s.expected > 0.0 && s.p_value > 0.0 && s.p_value.is_finite());
        assert_eq!(volume_test(0, &[]).p_value, 1.0);
    }

    #[test]
    fn share_rise_is_detected_and_stable_share_is_not() {
        let base = vec![(10, 100); 14];
        let rise = share_test(40, 100, &base);
        assert!(rise.p_value < 1e-6, "{rise:?}");
        let same = share_test(11, 100, &base);
        assert!(same.p_value > 0.2, "{same:?}");
        let fall = share_test(2, 100, &base);
        assert!(fall.p_value > 0.9);
        // Degenerate: nothing in the window.
        assert_eq!(share_test(0, 0, &base).p_value, 1.0);
        assert_eq!(share_test(3, 3, &[(5, 5)]).p_value, 1.0);
    }

    #[test]
    fn volatile_baseline_share_is_discounted() {
        let steady = vec![(20, 100); 10];
        let volatile: Vec<(u64, u64)> = (0..10)
            .map(|i| if i % 2 == 0 { (5, 100) } else { (35, 100) })
            .collect();
        let a = share_test(35, 100, &steady);
        let b = share_test(35, 100, &volatile);
        assert!(b.dispersion > 5.0, "{b:?}");
        assert!(a.p_value < 0.01 && b.p_value > 0.05, "{a:?} {b:?}");
    }
}
