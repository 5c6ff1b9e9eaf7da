namespace Analytics.LoadTests.Verification;

/// <summary>The counters one store (Redis or ClickHouse) holds for the run's sites.</summary>
internal sealed class StoreSnapshot(string store)
{
    public string Store { get; } = store;

    /// <summary>Views per site and local day (Redis <c>a:{site}:d:DATE</c> views; ClickHouse daily_site).</summary>
    public Dictionary<(string Site, DateOnly Day), long> Days { get; } = [];

    /// <summary>Views per site, day and path (Redis <c>a:{site}:p:DATE</c>; ClickHouse daily_page).</summary>
    public Dictionary<(string Site, DateOnly Day, string Path), long> Pages { get; } = [];

    /// <summary>Views per site, day and referrer (Redis <c>a:{site}:r:DATE</c>; ClickHouse daily_referrer).</summary>
    public Dictionary<(string Site, DateOnly Day, string Referrer), long> Referrers { get; } = [];

    /// <summary>All-time views per site (Redis <c>a:{site}:total</c>; ClickHouse: the sum of its days).</summary>
    public Dictionary<string, long> Totals { get; } = new(StringComparer.Ordinal);

    public long TotalViews => Totals.Values.Sum();

    public long Counters => Days.Count + Pages.Count + Referrers.Count + Totals.Count;
}
