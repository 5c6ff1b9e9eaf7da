using Analytics.Counting;
using Analytics.Sites;
using Microsoft.Extensions.Options;

namespace Analytics.Ingest;

/// <summary>What went wrong with a hit: the HTTP status, the field at fault and why.</summary>
internal readonly record struct IngestError(int Status, string Field, string Message);

/// <summary>
/// The one path every kind of hit takes: check the URL against the site, place it on the site's
/// local day, hash the visitor, and hand it to the group-commit writer.
/// </summary>
internal sealed class PageViews(SiteStore sites, CounterWriter counter, VisitorHasher visitors, TimeProvider time, IOptions<IngestOptions> options)
{
    private readonly IngestOptions _options = options.Value;

    public TimeProvider Time => time;

    public SiteStore Sites => sites;

    public IngestOptions Options => _options;

    public async ValueTask<(SiteEntry? Site, IngestError? Error)> FindSiteAsync(string? id, string field)
    {
        if (string.IsNullOrWhiteSpace(id))
        {
            return (null, new IngestError(StatusCodes.Status400BadRequest, field, $"{field} (the site id) is required."));
        }

        var site = await sites.FindAsync(id);
        return site is null
            ? (null, new IngestError(StatusCodes.Status404NotFound, field, $"There is no site '{id}'."))
            : (site, null);
    }

    /// <summary>Builds the hit for a page view at <paramref name="at"/> (now when null), or says what is wrong.</summary>
    public async ValueTask<(Hit Hit, IngestError? Error)> PrepareAsync(SiteEntry site, string? url, string urlField, string? referrer, string? ip, string? userAgent, DateTimeOffset? at = null)
    {
        if (!PageUrl.TryNormalise(url, site, _options.MaxUrlLength, out var path, out var error))
        {
            return (default, new IngestError(StatusCodes.Status400BadRequest, urlField, error.Replace("url", urlField, StringComparison.Ordinal)));
        }

        var day = site.LocalDay(at ?? time.GetUtcNow());
        var visitor = await visitors.HashAsync(site.Id, day, ip, userAgent);
        return (new Hit(site.Id, day, path, PageUrl.ReferrerHost(referrer, site), visitor, site.Site.Generation), null);
    }

    public Task CountAsync(in Hit hit) => counter.CountAsync(hit);

    public Task<bool> CountAsync(IReadOnlyList<Hit> hits, (StackExchange.Redis.RedisKey Key, StackExchange.Redis.RedisValue Json)? answer = null) => counter.CountAsync(hits, answer);
}
