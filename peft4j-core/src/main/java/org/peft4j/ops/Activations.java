package org.peft4j.ops;

import static org.peft4j.ops.Elementwise.F;
import static org.peft4j.ops.Elementwise.GRAIN;
import static org.peft4j.ops.Elementwise.L;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.Workspace;

/**
 * Activation functions with hand-written backward passes, and {@link #addBiasAct}, the bias add
 * and activation that follow a linear layer fused into one pass.
 *
 * <p>F32 runs Vector API kernels over rows of the input (a row is the last dimension when a bias is
 * added, else a fixed-size slice); rows shorter than one vector use the double formulas. Backward passes recompute the activation from the input rather than keeping its output.
 * F64 (for gradient checks) evaluates the same formulas in double with an erf accurate to ~1e-15.
 */
public final class Activations {
    /** Slope of {@link #leakyRelu(Tensor)} for negative inputs (PyTorch's default). */
    public static final double DEFAULT_LEAKY_SLOPE = 0.01;
    /** The sigmoid scale of quick_gelu, x·σ(1.702x). */
    public static final double QUICK_GELU_SCALE = 1.702;

    /** Row length used when there is no bias to align rows with. */
    private static final int ROW = 4096;
    /** Stands in for a bias when there is none, so the kernels have a single load path. */
    private static final float[] NO_BIAS = new float[ROW];

    private static final double SQRT_HALF = Math.sqrt(0.5);
    private static final double INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
    private static final double INV_SQRT_PI = 1 / Math.sqrt(Math.PI);
    /** √(2/π) and the cubic coefficient of the tanh approximation of GELU. */
    private static final double TANH_K0 = Math.sqrt(2 / Math.PI), TANH_K1 = TANH_K0 * 0.044715;

    /** An activation as configs name it: the function and its parameter; a null function is the identity. */
    private record Spec(Fn fn, double param) {}

    private static final Map<String, Spec> BY_NAME = new LinkedHashMap<>();

    static {
        BY_NAME.put("relu", new Spec(Fn.RELU, 0));
        BY_NAME.put("gelu", new Spec(Fn.GELU, 0));
        BY_NAME.put("gelu_python", new Spec(Fn.GELU, 0));
        BY_NAME.put("gelu_new", new Spec(Fn.GELU_TANH, 0));
        BY_NAME.put("gelu_pytorch_tanh", new Spec(Fn.GELU_TANH, 0));
        BY_NAME.put("gelu_fast", new Spec(Fn.GELU_TANH, 0));
        BY_NAME.put("gelu_accurate", new Spec(Fn.GELU_TANH, 0));
        BY_NAME.put("quick_gelu", new Spec(Fn.SILU, QUICK_GELU_SCALE));
        BY_NAME.put("silu", new Spec(Fn.SILU, 1));
        BY_NAME.put("swish", new Spec(Fn.SILU, 1));
        BY_NAME.put("tanh", new Spec(Fn.TANH, 0));
        BY_NAME.put("sigmoid", new Spec(Fn.SIGMOID, 0));
        BY_NAME.put("leakyrelu", new Spec(Fn.LEAKY_RELU, DEFAULT_LEAKY_SLOPE));
        BY_NAME.put("leaky_relu", new Spec(Fn.LEAKY_RELU, DEFAULT_LEAKY_SLOPE));
        BY_NAME.put("linear", new Spec(null, 0));
        BY_NAME.put("identity", new Spec(null, 0));
    }

    private Activations() {}

    // ---------------------------------------------------------------- public ops

    /** max(x, 0). */
    public static Tensor relu(Tensor x) { return apply(Fn.RELU, 0, x, null); }

    /** x for x > 0, else 0.01·x. */
    public static Tensor leakyRelu(Tensor x) { return leakyRelu(x, DEFAULT_LEAKY_SLOPE); }

    /** x for x > 0, else slope·x. */
    public static Tensor leakyRelu(Tensor x, double slope) { return apply(Fn.LEAKY_RELU, slope, x, null); }

    /** Exact GELU, x·Φ(x) = x·(1 + erf(x/√2))/2 (Hugging Face "gelu"). */
    public static Tensor gelu(Tensor x) { return apply(Fn.GELU, 0, x, null); }

    /** The tanh approximation of GELU, ½x(1 + tanh(√(2/π)(x + 0.044715x³))) ("gelu_new", "gelu_pytorch_tanh"). */
    public static Tensor geluTanh(Tensor x) { return apply(Fn.GELU_TANH, 0, x, null); }

    /** x·σ(x), also called swish. */
    public static Tensor silu(Tensor x) { return apply(Fn.SILU, 1, x, null); }

    /** x·σ(1.702x). */
    public static Tensor quickGelu(Tensor x) { return apply(Fn.SILU, QUICK_GELU_SCALE, x, null); }

    /** Hyperbolic tangent. */
    public static Tensor tanh(Tensor x) { return apply(Fn.TANH, 0, x, null); }

    /** Logistic sigmoid 1/(1 + e⁻ˣ). */
    public static Tensor sigmoid(Tensor x) { return apply(Fn.SIGMOID, 0, x, null); }

    /**
     * The activation called {@code name} in Hugging Face configs ({@code hidden_act}) and AdapterHub
     * adapter configs ({@code non_linearity}), case-insensitive.
     *
     * @throws IllegalArgumentException for an unknown name, listing the known ones
     */
    public static UnaryOperator<Tensor> byName(String name) {
        Spec spec = spec(name);
        return spec.fn() == null ? x -> x : x -> apply(spec.fn(), spec.param(), x, null);
    }

    /**
     * act(x + bias) in one pass, with bias of shape [n] added along the last dimension of x (the
     * output of a linear layer); {@code bias} may be null. {@code name} is as in {@link #byName}.
     */
    public static Tensor addBiasAct(Tensor x, Tensor bias, String name) {
        Spec spec = spec(name);
        if (spec.fn() == null) return bias == null ? x : Elementwise.add(x, bias);
        return apply(spec.fn(), spec.param(), x, bias);
    }

    private static Spec spec(String name) {
        Spec spec = name == null ? null : BY_NAME.get(name.toLowerCase(Locale.ROOT));
        if (spec == null) {
            throw new IllegalArgumentException("unknown activation '" + name + "'; known: " + String.join(", ", BY_NAME.keySet()));
        }
        return spec;
    }

    // ---------------------------------------------------------------- erf

    /** The error function, accurate to about 1e-15 relative. */
    public static double erf(double x) {
        double a = Math.abs(x);
        if (a < 1.5) return erfSeries(x);
        double r = 1 - erfcContinuedFraction(a);
        return x < 0 ? -r : r;
    }

    /** The complementary error function 1 - erf(x), accurate in relative terms in both tails. */
    public static double erfc(double x) {
        if (x >= 1.5) return erfcContinuedFraction(x);
        if (x <= -1.5) return 2 - erfcContinuedFraction(-x);
        return 1 - erfSeries(x);
    }

    /**
     * erf(x) = 2x/√π · e^(-x²) · Σ (2x²)ⁿ / (1·3·…·(2n+1)): every term is positive, so there is no
     * cancellation; for |x| < 1.5 it converges in under 40 terms.
     */
    private static double erfSeries(double x) {
        double x2 = 2 * x * x, term = 1, sum = 1;
        for (int n = 1; term > 1e-17 * sum; n++) {
            term *= x2 / (2 * n + 1);
            sum += term;
        }
        return 2 * x * INV_SQRT_PI * Math.exp(-x * x) * sum;
    }

    /**
     * erfc(x) for x ≥ 1.5 from the even part of its continued fraction,
     * erfc(x) = e^(-x²)/√π · 2x / (2x²+1 − 1·2/(2x²+5 − 3·4/(2x²+9 − …))), evaluated bottom-up;
     * 50 levels reach double precision at x = 1.5 and more than enough beyond.
     */
    private static double erfcContinuedFraction(double x) {
        double x2 = 2 * x * x;
        double f = x2 + 4 * 50 + 1;
        for (int n = 50; n >= 1; n--) f = x2 + 4 * n - 3 - (2.0 * n - 1) * (2.0 * n) / f;
        // e^(-x²) with x² split so that its rounding error does not grow with x.
        double hi = Math.floor(x * 16) / 16;
        double expNegX2 = Math.exp(-hi * hi) * Math.exp(-(x - hi) * (x + hi));
        return expNegX2 * INV_SQRT_PI * 2 * x / f;
    }

    /** Standard normal CDF Φ(x) in double. */
    private static double normalCdf(double x) { return 0.5 * erfc(-x * SQRT_HALF); }

    private static double sigmoid(double x) { return 1 / (1 + Math.exp(-x)); }

    // ---------------------------------------------------------------- float vector math

    /**
     * Q(t) with erfc(a) ≈ e^(-a²)·t·Q(t), t = 1/(1 + 0.5a), a least-squares fit in relative error for
     * 0 ≤ a ≤ 10.5 (5e-8 in exact arithmetic, about 3e-7 as evaluated in float). ERFC_T is 0.5/√2,
     * so that t comes straight from |x| = a√2.
     */
    private static final float ERFC_T = (float) (0.5 * SQRT_HALF);
    private static final float Q0 = 0.2820819020271301f, Q1 = 0.2824624180793762f, Q2 = 0.24241365492343903f,
            Q3 = 0.20563285052776337f, Q4 = -0.03407042846083641f, Q5 = 0.28952696919441223f,
            Q6 = -0.49774396419525146f, Q7 = 0.2899009585380554f, Q8 = -0.060204412788152695f;
    /** |x| is clamped here (a = 10.5, the end of the fit), where e^(-x²/2) is already below the smallest float. */
    private static final float GELU_X_MAX = 14.8f;
    /** σ′ is formed from e^(-v) with v clamped here, so e^(-v) stays finite where σ′ is negligible anyway. */
    private static final float SIGMOID_V_MIN = -80f;

    /*
     * Vector helpers stay under 35 bytecodes, the size both JIT tiers always inline: a larger helper
     * can end up compiled on its own and then no longer inlined, and every vector it takes or
     * returns becomes a heap object.
     */

    private static FloatVector reciprocal(FloatVector v) {
        return FloatVector.broadcast(F, 1f).div(v);
    }

    /** σ(v) = 1/(1 + e^(-v)); saturates to 0 and 1 without NaN. */
    private static FloatVector sigmoid(FloatVector v) {
        return reciprocal(v.neg().lanewise(VectorOperators.EXP).add(1f));
    }

    /** e^(-v) for derivatives: with s = 1/(1 + e^(-v)), 1 - s = e^(-v)·s has no cancellation as s nears 1. */
    private static FloatVector expNeg(FloatVector v) {
        return v.max(SIGMOID_V_MIN).neg().lanewise(VectorOperators.EXP);
    }

    private static FloatVector load(float[] x, int i, float[] bias, int j) {
        return FloatVector.fromArray(F, x, i).add(FloatVector.fromArray(F, bias, j));
    }

    // ---------------------------------------------------------------- the activations

    /**
     * One activation: float vector kernels over rows of F32 data and double forms for F64. A row
     * kernel maps x[off, off+n) + bias[0, n) into y (forward) or turns the gradient g into dx
     * (backward), for n of at least one vector. Each kernel is a single loop with its math written
     * in the loop body, calling only the small helpers above; the last vector of a row overlaps the
     * one before it instead of running a separate tail, which is harmless because every output
     * depends only on its own inputs.
     */
    private enum Fn {
        RELU {
            void forward(float[] x, int off, float[] b, float[] y, int n, float p) {
                for (int i = 0; i < n; i += L) {
                    int j = Math.min(i, n - L);
                    load(x, off + j, b, j).max(0f).intoArray(y, off + j);
                }
            }

            void backward(float[] x, int off, float[] b, float[] g, float[] dx, int n, float p) {
                for (int i = 0; i < n; i += L) {
                    int j = Math.min(i, n - L);
                    FloatVector v = load(x, off + j, b, j), gv = FloatVector.fromArray(F, g, off + j);
                    gv.blend(0f, v.compare(VectorOperators.LE, 0f)).intoArray(dx, off + j);
                }
            }

            double f(double x, double p) { return x > 0 ? x : 0; }

            double df(double x, double p) { return x > 0 ? 1 : 0; }
        },
        LEAKY_RELU {
            void forward(float[] x, int off, float[] b, float[] y, int n, float p) {
                for (int i = 0; i < n; i += L) {
                    int j = Math.min(i, n - L);
                    FloatVector v = load(x, off + j, b, j);
                    v.mul(p).blend(v, v.compare(VectorOperators.GT, 0f)).intoArray(y, off + j);
                }
            }

            void backward(float[] x, int off, float[] b, float[] g, float[] dx, int n, float p) {
                for (int i = 0; i < n; i += L) {
                    int j = Math.min(i, n - L);
                    FloatVector v = load(x, off + j, b, j), gv = FloatVector.fromArray(F, g, off + j);
                    gv.mul(p).blend(gv, v.compare(VectorOperators.GT, 0f)).intoArray(dx, off + j);
                }
            }

            double f(double x, double p) { return x > 0 ? x : p * x; }

            double df(double x, double p) { return x > 0 ? 1 : p; }
        },
        /**
         * x·Φ(x) with Φ from erfc: for a = |x|/√2, ½erfc(a) ≈ ½·e·t·Q(t), e = e^(-x²/2) and
         * t = 1/(1 + 0.5a); Φ(x) is that for x < 0 and one minus it for x ≥ 0. e^(-x²/2) is formed
         * from x itself with the rounding error of x² recovered by an fma, so the negative tail keeps
         * its relative accuracy. Both loops spell this out: a shared helper would be too large to inline reliably.
         */
        GELU {
            void forward(float[] x, int off, float[] b, float[] y, int n, float p) {
                for (int i = 0; i < n; i += L) {
                    int j = Math.min(i, n - L);
                    FloatVector v = load(x, off + j, b, j);
                    FloatVector ax = v.abs().min(GELU_X_MAX), x2 = ax.mul(ax);
                    FloatVector e = x2.mul(-0.5f).lanewise(VectorOperators.EXP);
                    e = ax.fma(ax, x2.neg()).mul(-0.5f).fma(e, e);
                    FloatVector t = reciprocal(ax.fma(ERFC_T, 1f));
                    FloatVector q = t.fma(Q8, Q7).fma(t, FloatVector.broadcast(F, Q6));
                    q = q.fma(t, FloatVector.broadcast(F, Q5)).fma(t, FloatVector.broadcast(F, Q4));
                    q = q.fma(t, FloatVector.broadcast(F, Q3)).fma(t, FloatVector.broadcast(F, Q2));
                    q = q.fma(t, FloatVector.broadcast(F, Q1)).fma(t, FloatVector.broadcast(F, Q0));
                    FloatVector half = e.mul(t).mul(q).mul(0.5f);
                    FloatVector cdf = half.blend(half.neg().add(1f), v.compare(VectorOperators.GE, 0f));
                    v.mul(cdf).intoArray(y, off + j);
                }
            }

            /** d/dx x·Φ(x) = Φ(x) + x·φ(x), with φ(x) = e^(-x²/2)/√(2π). */
            void backward(float[] x, int off, float[] b, float[] g, float[] dx, int n, float p) {
                for (int i = 0; i < n; i += L) {
                    int j = Math.min(i, n - L);
                    FloatVector v = load(x, off + j, b, j), gv = FloatVector.fromArray(F, g, off + j);
                    FloatVector ax = v.abs().min(GELU_X_MAX), x2 = ax.mul(ax);
                    FloatVector e = x2.mul(-0.5f).lanewise(VectorOperators.EXP);
                    e = ax.fma(ax, x2.neg()).mul(-0.5f).fma(e, e);
                    FloatVector t = reciprocal(ax.fma(ERFC_T, 1f));
                    FloatVector q = t.fma(Q8, Q7).fma(t, FloatVector.broadcast(F, Q6));
                    q = q.fma(t, FloatVector.broadcast(F, Q5)).fma(t, FloatVector.broadcast(F, Q4));
                    q = q.fma(t, FloatVector.broadcast(F, Q3)).fma(t, FloatVector.broadcast(F, Q2));
                    q = q.fma(t, FloatVector.broadcast(F, Q1)).fma(t, FloatVector.broadcast(F, Q0));
                    FloatVector half = e.mul(t).mul(q).mul(0.5f);
                    FloatVector cdf = half.blend(half.neg().add(1f), v.compare(VectorOperators.GE, 0f));
                    gv.mul(v.mul(e).fma(FloatVector.broadcast(F, (float) INV_SQRT_2PI), cdf)).intoArray(dx, off + j);
                }
            }

            double f(double x, double p) { return x * normalCdf(x); }

            double df(double x, double p) { return normalCdf(x) + x * Math.exp(-0.5 * x * x) * INV_SQRT_2PI; }
        },
        /** ½(1 + tanh u) = σ(2u), so x·σ(2u) avoids the cancellation in 1 + tanh u for negative u. */
        GELU_TANH {
            void forward(float[] x, int off, float[] b, float[] y, int n, float p) {
                for (int i = 0; i < n; i += L) {
                    int j = Math.min(i, n - L);
                    FloatVector v = load(x, off + j, b, j);
                    FloatVector twoU = v.mul(v.mul(v).fma((float) (2 * TANH_K1), (float) (2 * TANH_K0)));
                    v.mul(sigmoid(twoU)).intoArray(y, off + j);
                }
            }

            /** d/dx x·s(x) with s = σ(2u): s + x·s(1−s)·2u′, u′ = K0 + 3·K1·x². */
            void backward(float[] x, int off, float[] b, float[] g, float[] dx, int n, float p) {
                for (int i = 0; i < n; i += L) {
                    int j = Math.min(i, n - L);
                    FloatVector v = load(x, off + j, b, j), gv = FloatVector.fromArray(F, g, off + j);
                    FloatVector x2 = v.mul(v);
                    FloatVector e = expNeg(v.mul(x2.fma((float) (2 * TANH_K1), (float) (2 * TANH_K0))));
                    FloatVector s = reciprocal(e.add(1f));
                    FloatVector twoDu = x2.fma((float) (6 * TANH_K1), (float) (2 * TANH_K0));
                    FloatVector ds = e.mul(s).mul(s).mul(twoDu);
                    gv.mul(v.fma(ds, s)).intoArray(dx, off + j);
                }
            }

            double f(double x, double p) { return x * sigmoid(2 * x * (TANH_K0 + TANH_K1 * x * x)); }

            double df(double x, double p) {
                double s = sigmoid(2 * x * (TANH_K0 + TANH_K1 * x * x));
                return s + x * s * (1 - s) * 2 * (TANH_K0 + 3 * TANH_K1 * x * x);
            }
        },
        /** x·σ(p·x): silu/swish for p = 1, quick_gelu for p = 1.702. */
        SILU {
            void forward(float[] x, int off, float[] b, float[] y, int n, float p) {
                for (int i = 0; i < n; i += L) {
                    int j = Math.min(i, n - L);
                    FloatVector v = load(x, off + j, b, j);
                    v.mul(sigmoid(v.mul(p))).intoArray(y, off + j);
                }
            }

            /** σ + p·x·σ(1−σ) = σ(1 + p·x(1−σ)). */
            void backward(float[] x, int off, float[] b, float[] g, float[] dx, int n, float p) {
                for (int i = 0; i < n; i += L) {
                    int j = Math.min(i, n - L);
                    FloatVector v = load(x, off + j, b, j), gv = FloatVector.fromArray(F, g, off + j);
                    FloatVector px = v.mul(p);
                    FloatVector e = expNeg(px);
                    FloatVector s = reciprocal(e.add(1f));
                    gv.mul(s.mul(px.mul(e.mul(s)).add(1f))).intoArray(dx, off + j);
                }
            }

            double f(double x, double p) { return x * sigmoid(p * x); }

            double df(double x, double p) {
                double s = sigmoid(p * x);
                return s * (1 + p * x * (1 - s));
            }
        },
        TANH {
            void forward(float[] x, int off, float[] b, float[] y, int n, float p) {
                for (int i = 0; i < n; i += L) {
                    int j = Math.min(i, n - L);
                    load(x, off + j, b, j).lanewise(VectorOperators.TANH).intoArray(y, off + j);
                }
            }

            void backward(float[] x, int off, float[] b, float[] g, float[] dx, int n, float p) {
                for (int i = 0; i < n; i += L) {
                    int j = Math.min(i, n - L);
                    FloatVector v = load(x, off + j, b, j), gv = FloatVector.fromArray(F, g, off + j);
                    FloatVector t = v.lanewise(VectorOperators.TANH);
                    gv.mul(t.mul(t).neg().add(1f)).intoArray(dx, off + j);
                }
            }

            double f(double x, double p) { return Math.tanh(x); }

            double df(double x, double p) {
                double y = Math.tanh(x);
                return 1 - y * y;
            }
        },
        SIGMOID {
            void forward(float[] x, int off, float[] b, float[] y, int n, float p) {
                for (int i = 0; i < n; i += L) {
                    int j = Math.min(i, n - L);
                    sigmoid(load(x, off + j, b, j)).intoArray(y, off + j);
                }
            }

            void backward(float[] x, int off, float[] b, float[] g, float[] dx, int n, float p) {
                for (int i = 0; i < n; i += L) {
                    int j = Math.min(i, n - L);
                    FloatVector v = load(x, off + j, b, j), gv = FloatVector.fromArray(F, g, off + j);
                    FloatVector e = expNeg(v);
                    FloatVector s = reciprocal(e.add(1f));
                    gv.mul(e.mul(s).mul(s)).intoArray(dx, off + j);
                }
            }

            double f(double x, double p) { return sigmoid(x); }

            double df(double x, double p) {
                double s = sigmoid(x);
                return s * (1 - s);
            }
        };

        abstract void forward(float[] x, int off, float[] b, float[] y, int n, float p);

        abstract void backward(float[] x, int off, float[] b, float[] g, float[] dx, int n, float p);

        abstract double f(double x, double p);

        /** f′(x). */
        abstract double df(double x, double p);

        String opName() { return name().toLowerCase(Locale.ROOT); }
    }

    // ---------------------------------------------------------------- drivers

    private static Tensor apply(Fn fn, double param, Tensor x, Tensor bias) {
        int[] shape = x.shape();
        if (bias != null && (bias.dim() != 1 || shape.length == 0 || bias.size(0) != shape[shape.length - 1])) {
            throw new IllegalArgumentException(fn.opName() + ": bias of shape " + Arrays.toString(bias.shape())
                    + " does not match the last dimension of input " + Arrays.toString(shape));
        }
        DType type = bias == null ? x.computeType() : Elementwise.resultType(x, bias);
        Tensor out = type == DType.F32 ? forwardF32(fn, (float) param, x, bias, shape) : forwardF64(fn, param, x, bias, shape);
        String op = bias == null ? fn.opName() : "addBias_" + fn.opName();
        if (bias == null) {
            return Autograd.record(out, op, g -> new Tensor[] {backward(fn, param, x, null, g, type, shape)}, x);
        }
        int[] biasShape = bias.shape();
        return Autograd.record(out, op, g -> {
            Tensor dx = backward(fn, param, x, bias, g, type, shape);
            return new Tensor[] {x.requiresGrad() ? dx : null,
                    bias.requiresGrad() ? Elementwise.sumToShape(dx, biasShape) : null};
        }, x, bias);
    }

    /** A body run over the row [off, off+len) of the flat data. */
    private interface Rows {
        void run(int off, int len);
    }

    /** Runs body over [0, total) in rows of rowLen (the last one may be shorter), rows split across cores. */
    private static void forRows(int total, int rowLen, Rows body) {
        if (total == 0 || rowLen == 0) return;
        int rows = (total + rowLen - 1) / rowLen;
        Parallel.forRange(rows, Math.max(1, GRAIN / rowLen), (s, e) -> {
            for (int r = s; r < e; r++) {
                int off = r * rowLen;
                body.run(off, Math.min(rowLen, total - off));
            }
        });
    }

    private static Tensor forwardF32(Fn fn, float p, Tensor x, Tensor bias, int[] shape) {
        float[] xs = Elementwise.floatsOf(x);
        float[] b = bias == null ? NO_BIAS : Elementwise.floatsOf(bias);
        float[] y = Workspace.floats(xs.length);
        forRows(xs.length, bias == null ? ROW : b.length, (off, len) -> {
            if (len >= L) {
                fn.forward(xs, off, b, y, len, p);
            } else {
                for (int i = 0; i < len; i++) y[off + i] = (float) fn.f(xs[off + i] + b[i], p);
            }
        });
        return Tensor.of(y, shape);
    }

    private static Tensor forwardF64(Fn fn, double p, Tensor x, Tensor bias, int[] shape) {
        double[] xs = Elementwise.doublesOf(x);
        double[] b = bias == null ? null : Elementwise.doublesOf(bias);
        double[] y = new double[xs.length];
        for (int i = 0; i < y.length; i++) y[i] = fn.f(b == null ? xs[i] : xs[i] + b[i % b.length], p);
        return Tensor.of(y, shape);
    }

    private static Tensor backward(Fn fn, double p, Tensor x, Tensor bias, Tensor g, DType type, int[] shape) {
        if (type == DType.F32) {
            float[] xs = Elementwise.floatsOf(x), gs = Elementwise.floatsOf(g);
            float[] b = bias == null ? NO_BIAS : Elementwise.floatsOf(bias);
            float[] dx = Workspace.floats(xs.length);
            float fp = (float) p;
            forRows(xs.length, bias == null ? ROW : b.length, (off, len) -> {
                if (len >= L) {
                    fn.backward(xs, off, b, gs, dx, len, fp);
                } else {
                    for (int i = 0; i < len; i++) dx[off + i] = (float) (gs[off + i] * fn.df(xs[off + i] + b[i], p));
                }
            });
            return Tensor.of(dx, shape);
        }
        double[] xs = Elementwise.doublesOf(x), gs = Elementwise.doublesOf(g);
        double[] b = bias == null ? null : Elementwise.doublesOf(bias);
        double[] dx = new double[xs.length];
        for (int i = 0; i < dx.length; i++) dx[i] = gs[i] * fn.df(b == null ? xs[i] : xs[i] + b[i % b.length], p);
        return Tensor.of(dx, shape);
    }
}
