using Analytics.LoadTests.Verification;

namespace Analytics.LoadTests.Load;

/// <summary>A counter cell by index into the <see cref="LoadCatalog"/> (cheap to hash on the hot path).</summary>
internal readonly record struct LedgerCell(int Site, DateOnly Day, int Page, int Referrer);

/// <summary>One worker's record of acknowledged, uncertain and either-day hits; merged into <see cref="ExpectedCounts"/> at the end.</summary>
internal sealed class HitLedger
{
    private readonly Dictionary<LedgerCell, long> _acknowledged = [];
    private readonly Dictionary<LedgerCell, long> _uncertain = [];
    private readonly Dictionary<(LedgerCell Cell, DateOnly OtherDay), long> _eitherDay = [];

    public void Acknowledge(in LedgerCell cell) =>
        _acknowledged[cell] = _acknowledged.GetValueOrDefault(cell) + 1;

    public void Uncertain(in LedgerCell cell) =>
        _uncertain[cell] = _uncertain.GetValueOrDefault(cell) + 1;

    public void EitherDay(in LedgerCell cell, DateOnly otherDay) =>
        _eitherDay[(cell, otherDay)] = _eitherDay.GetValueOrDefault((cell, otherDay)) + 1;

    public void CopyTo(ExpectedCounts expected, LoadCatalog catalog)
    {
        HitCell Resolve(LedgerCell c) => new(catalog.Sites[c.Site].Id, c.Day, catalog.Path(c.Page), LoadCatalog.Referrers[c.Referrer].Host);

        foreach (var (cell, views) in _acknowledged)
        {
            expected.AddAcknowledged(Resolve(cell), views);
        }

        foreach (var (cell, views) in _uncertain)
        {
            expected.AddUncertain(Resolve(cell), views);
        }

        foreach (var ((cell, otherDay), views) in _eitherDay)
        {
            expected.AddEitherDay(Resolve(cell), otherDay, views);
        }
    }
}
