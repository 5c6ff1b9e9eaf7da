using System.Globalization;

namespace Analytics.LoadTests.Verification;

/// <summary>One counter that is outside what the load allows: it should hold <see cref="Lower"/> … <see cref="Upper"/> views.</summary>
internal sealed record Mismatch(string Counter, string Key, long Lower, long Upper, long Actual)
{
    public override string ToString() => Lower == Upper
        ? string.Create(CultureInfo.InvariantCulture, $"{Counter} {Key}: expected {Lower:N0}, found {Actual:N0} ({Actual - Lower:+#,0;-#,0})")
        : string.Create(CultureInfo.InvariantCulture, $"{Counter} {Key}: expected {Lower:N0} … {Upper:N0}, found {Actual:N0}");
}

/// <summary>How one store compared with what the load acknowledged (or with another store).</summary>
internal sealed record VerificationResult(
    string Store,
    string ComparedWith,
    bool Exact,
    long MustCount,
    long Uncertain,
    long Counted,
    long CountersChecked,
    int MismatchCount,
    IReadOnlyList<Mismatch> Mismatches)
{
    public const int MaxListed = 20;

    public bool Passed => MismatchCount == 0;

    public string Describe() => $"{Store,-10} vs {ComparedWith}: {Verdict()}";

    /// <summary>PASS/FAIL and the numbers, without the store's name.</summary>
    public string Verdict()
    {
        var verdict = Passed ? (Exact ? "PASS (exact)" : "PASS (within bounds)") : "FAIL";
        var counts = ComparedWith == "acknowledged"
            ? Exact
                ? string.Create(CultureInfo.InvariantCulture, $"acknowledged {MustCount:N0}, counted {Counted:N0}")
                : string.Create(CultureInfo.InvariantCulture, $"acknowledged {MustCount:N0} (+{Uncertain:N0} uncertain), counted {Counted:N0}")
            : string.Create(CultureInfo.InvariantCulture, $"{ComparedWith} {MustCount:N0}, {Store} {Counted:N0}");
        var text = string.Create(CultureInfo.InvariantCulture, $"{verdict} — {counts}; {CountersChecked:N0} counters checked");
        if (!Passed)
        {
            text += string.Create(CultureInfo.InvariantCulture, $", {MismatchCount:N0} wrong:");
            foreach (var mismatch in Mismatches)
            {
                text += "\n    " + mismatch;
            }

            if (MismatchCount > Mismatches.Count)
            {
                text += string.Create(CultureInfo.InvariantCulture, $"\n    … and {MismatchCount - Mismatches.Count:N0} more");
            }
        }

        return text;
    }
}
