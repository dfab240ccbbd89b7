"""Reference digits of pi (Machin, Python ints) to compare with the pi example: pi_reference.py N"""
import sys; sys.set_int_max_str_digits(0)
import sys
def pi_digits(n):
    # Machin with Python ints, n significant digits, truncated
    prec = n + 10; one = 10**prec
    def atan_inv(x):
        s = t = one // x; x2 = x*x; k = 1; sign = -1
        while t:
            t //= x2; s += sign * (t // (2*k+1)); sign = -sign; k += 1
        return s
    p = 4*(4*atan_inv(5) - atan_inv(239))
    d = str(p)[:n]
    return d[0] + ("." + d[1:] if n > 1 else "")
print(pi_digits(int(sys.argv[1])))
