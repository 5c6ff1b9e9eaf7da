namespace Analytics.LoadTests.Verification;

/// <summary>One counter cell: a view of <see cref="Path"/> on the site's local <see cref="Day"/>, from <see cref="Referrer"/> (the referrer host as the service stores it, "(direct)" for none).</summary>
internal readonly record struct HitCell(string Site, DateOnly Day, string Path, string Referrer);

/// <summary>
/// What the stores must hold after a load: the views the service acknowledged (answered 2xx and
/// not marked ignored), per site, local day, path and referrer. Two kinds of uncertainty are
/// kept apart so a check can still be exact about everything else:
/// <list type="bullet">
/// <item><b>uncertain</b> views may or may not be counted: requests in flight when the service
/// was killed, or that failed in transit (their answer never came);</item>
/// <item><b>either-day</b> views were acknowledged, but the site's local midnight passed while
/// they were in flight, so they count once on one of two days.</item>
/// </list>
/// With neither, <see cref="IsExact"/> is true and every counter must match to the unit.
/// </summary>
internal sealed class ExpectedCounts
{
    private readonly Dictionary<HitCell, long> _acknowledged = [];
    private readonly Dictionary<HitCell, long> _uncertain = [];
    private readonly Dictionary<(HitCell Cell, DateOnly OtherDay), long> _eitherDay = [];
    private readonly HashSet<string> _sites = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<HitCell, long> Acknowledged => _acknowledged;

    public IReadOnlyDictionary<HitCell, long> Uncertain => _uncertain;

    public IReadOnlyDictionary<(HitCell Cell, DateOnly OtherDay), long> EitherDay => _eitherDay;

    /// <summary>Every site of the run, also those that got no acknowledged view (their counters must be zero).</summary>
    public IReadOnlyCollection<string> Sites => _sites;

    public long AcknowledgedViews { get; private set; }

    public long UncertainViews { get; private set; }

    public long EitherDayViews { get; private set; }

    /// <summary>Acknowledged views in all: those that must be counted exactly once.</summary>
    public long MustCount => AcknowledgedViews + EitherDayViews;

    public bool IsExact => UncertainViews == 0 && EitherDayViews == 0;

    public void AddSite(string site) => _sites.Add(site);

    public void AddAcknowledged(HitCell cell, long views = 1)
    {
        _sites.Add(cell.Site);
        _acknowledged[cell] = _acknowledged.GetValueOrDefault(cell) + views;
        AcknowledgedViews += views;
    }

    public void AddUncertain(HitCell cell, long views = 1)
    {
        _sites.Add(cell.Site);
        _uncertain[cell] = _uncertain.GetValueOrDefault(cell) + views;
        UncertainViews += views;
    }

    /// <summary>Acknowledged, counted on <paramref name="cell"/>'s day or on <paramref name="otherDay"/>.</summary>
    public void AddEitherDay(HitCell cell, DateOnly otherDay, long views = 1)
    {
        if (otherDay == cell.Day)
        {
            AddAcknowledged(cell, views);
            return;
        }

        _sites.Add(cell.Site);
        _eitherDay[(cell, otherDay)] = _eitherDay.GetValueOrDefault((cell, otherDay)) + views;
        EitherDayViews += views;
    }

    public void Add(ExpectedCounts other)
    {
        foreach (var site in other._sites)
        {
            AddSite(site);
        }

        foreach (var (cell, views) in other._acknowledged)
        {
            AddAcknowledged(cell, views);
        }

        foreach (var (cell, views) in other._uncertain)
        {
            AddUncertain(cell, views);
        }

        foreach (var ((cell, otherDay), views) in other._eitherDay)
        {
            AddEitherDay(cell, otherDay, views);
        }
    }
}
