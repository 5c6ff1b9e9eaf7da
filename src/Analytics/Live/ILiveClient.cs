using Analytics.Reads;

namespace Analytics.Live;

internal sealed record PageCount(string Path, long Views);

internal sealed record ReferrerCount(string Referrer, long Views);

/// <summary>Today's top pages and referrers of a site, for staff.</summary>
internal sealed record TopPages(string Site, string Date, IReadOnlyList<PageCount> Pages, IReadOnlyList<ReferrerCount> Referrers);

/// <summary>What the server calls on live clients.</summary>
internal interface ILiveClient
{
    /// <summary>The site's counts (the <c>/counts</c> shape) changed.</summary>
    Task Counts(SiteCounts counts);

    /// <summary>Today's top pages and referrers (staff only).</summary>
    Task Pages(TopPages pages);
}
