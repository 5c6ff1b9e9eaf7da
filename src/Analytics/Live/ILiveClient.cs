using Analytics.Reads;

namespace Analytics.Live;

public sealed record PageCount(string Path, long Views);

public sealed record ReferrerCount(string Referrer, long Views);

/// <summary>Today's top pages and referrers of a site, for staff.</summary>
public sealed record TopPages(string Site, string Date, IReadOnlyList<PageCount> Pages, IReadOnlyList<ReferrerCount> Referrers);

/// <summary>
/// What the server calls on live clients. The method names are the wire names of the contract
/// (<c>counts</c>, <c>pages</c>), and .NET clients match them case-sensitively, hence lower case.
/// </summary>
#pragma warning disable IDE1006, CA1715
public interface ILiveClient
{
    /// <summary>The site's counts (the <c>/counts</c> shape) changed.</summary>
    Task counts(SiteCounts counts);

    /// <summary>Today's top pages and referrers (staff only).</summary>
    Task pages(TopPages pages);
}
#pragma warning restore IDE1006, CA1715
