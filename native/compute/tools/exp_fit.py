# Coefficients of vexp.h's Exp8: e^r = 1 + r (1 + r q(r)) on |r| <= ln2 / 2, q a degree-9
# near-minimax (Chebyshev) fit of (e^r - 1 - r) / r^2 in 50-digit arithmetic (mpmath.chebyfit).
# Prints the fit's error on q and the coefficients as doubles, highest degree first.
# Run: python3 native/compute/tools/exp_fit.py
import mpmath as mp

mp.mp.dps = 50
half_ln2 = mp.log(2) / 2


def q(r):
    if abs(r) < mp.mpf("1e-20"):
        return mp.mpf(1) / 2
    return (mp.exp(r) - 1 - r) / r**2


coeffs, err = mp.chebyfit(q, [-half_ln2, half_ln2], 10, error=True)
print("fit error on q:", mp.nstr(err, 5))
print(", ".join(repr(float(c)) for c in coeffs))
