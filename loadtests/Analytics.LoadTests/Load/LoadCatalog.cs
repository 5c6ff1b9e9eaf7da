using System.Globalization;
using Analytics.LoadTests.Verification;

namespace Analytics.LoadTests.Load;

/// <summary>A referrer as sent, and the host the service stores it under ("(direct)" for none).</summary>
internal sealed record Referrer(string? Sent, string Host);

/// <summary>What a load draws from: the run's sites, their pages (<c>/articles/N</c>), referrers and how many days back batches go.</summary>
internal sealed class LoadCatalog
{
    private readonly string[] _paths;

    public LoadCatalog(IReadOnlyList<LoadSite> sites, int pages, int days)
    {
        if (sites.Count == 0 || pages < 1 || days < 1)
        {
            throw new ArgumentException("A load needs at least one site, one page and one day.");
        }

        Sites = sites;
        Days = days;
        _paths = [.. Enumerable.Range(0, pages).Select(i => string.Create(CultureInfo.InvariantCulture, $"/articles/{i}"))];
    }

    public IReadOnlyList<LoadSite> Sites { get; }

    public int Pages => _paths.Length;

    /// <summary>Batches spread their events' <c>ts</c> over this many days back.</summary>
    public int Days { get; }

    /// <summary>Referrers sent, with how the service normalises them (host, lower case, no www.).</summary>
    public static readonly Referrer[] Referrers =
    [
        new(null, "(direct)"),
        new("https://www.google.com/search?q=news", "google.com"),
        new("https://news.ycombinator.com/item?id=1", "news.ycombinator.com"),
        new("https://t.co/x1y2z3", "t.co"),
        new("https://duckduckgo.com/", "duckduckgo.com"),
        new("https://www.Bing.com/search?q=today", "bing.com"),
    ];

    /// <summary>The counted path of page <paramref name="page"/>.</summary>
    public string Path(int page) => _paths[page];

    /// <summary>
    /// The page URL a browser would report: sometimes with tracking parameters or a fragment,
    /// which the service drops (the run's sites keep no query parameters), so the path is the same.
    /// </summary>
    public string PageUrl(int site, int page, int variant) => variant switch
    {
        0 => $"https://{Sites[site].Domain}{_paths[page]}?utm_source=newsletter&utm_medium=email",
        1 => $"https://www.{Sites[site].Domain}{_paths[page]}#comments",
        _ => $"https://{Sites[site].Domain}{_paths[page]}",
    };

    /// <summary>Expected counts with every site of the run in it (a site nothing was acknowledged for must stay at zero).</summary>
    public ExpectedCounts NewExpected()
    {
        var expected = new ExpectedCounts();
        foreach (var site in Sites)
        {
            expected.AddSite(site.Id);
        }

        return expected;
    }
}
