namespace Analytics.LoadTests.Verification;

/// <summary>
/// The least and most each counter may hold after a load: acknowledged views must be there;
/// uncertain views may be; an either-day view is on one of its two days, and exactly once in
/// the total. Without uncertainty, least = most: the check is exact.
/// </summary>
internal sealed class CountBounds
{
    public Dictionary<(string Site, DateOnly Day), (long Lower, long Upper)> Days { get; } = [];

    public Dictionary<(string Site, DateOnly Day, string Path), (long Lower, long Upper)> Pages { get; } = [];

    public Dictionary<(string Site, DateOnly Day, string Referrer), (long Lower, long Upper)> Referrers { get; } = [];

    public Dictionary<string, (long Lower, long Upper)> Totals { get; } = new(StringComparer.Ordinal);

    public static CountBounds Of(ExpectedCounts expected)
    {
        var bounds = new CountBounds();
        foreach (var site in expected.Sites)
        {
            bounds.Totals[site] = (0, 0);
        }

        foreach (var (cell, views) in expected.Acknowledged)
        {
            bounds.AddCell(cell, views, views);
            Add(bounds.Totals, cell.Site, views, views);
        }

        foreach (var (cell, views) in expected.Uncertain)
        {
            bounds.AddCell(cell, 0, views);
            Add(bounds.Totals, cell.Site, 0, views);
        }

        foreach (var ((cell, otherDay), views) in expected.EitherDay)
        {
            bounds.AddCell(cell, 0, views);
            bounds.AddCell(cell with { Day = otherDay }, 0, views);
            Add(bounds.Totals, cell.Site, views, views);
        }

        return bounds;
    }

    private void AddCell(HitCell cell, long lower, long upper)
    {
        Add(Days, (cell.Site, cell.Day), lower, upper);
        Add(Pages, (cell.Site, cell.Day, cell.Path), lower, upper);
        Add(Referrers, (cell.Site, cell.Day, cell.Referrer), lower, upper);
    }

    private static void Add<TKey>(Dictionary<TKey, (long Lower, long Upper)> bounds, TKey key, long lower, long upper)
        where TKey : notnull
    {
        var (l, u) = bounds.GetValueOrDefault(key);
        bounds[key] = (l + lower, u + upper);
    }
}
