using Analytics.Infrastructure;
using Analytics.Sites;
using Analytics.Staff;
using StackExchange.Redis;

namespace Analytics.Reads;

internal static class CountsEndpoints
{
    public const string PublicCors = "public-read";

    public static IEndpointRouteBuilder MapCounts(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/sites/{site}/counts", CountsAsync).RequireCors(PublicCors);
        return app;
    }

    private static async Task<IResult> CountsAsync(string site, string? days, HttpContext context, SiteStore sites, CountsReader reader)
    {
        var count = 5;
        if (days is not null && (!int.TryParse(days, out count) || count < 1 || count > CountsReader.MaxDays))
        {
            return Problems.Invalid("days", $"days must be a whole number from 1 to {CountsReader.MaxDays}.");
        }

        var (entry, problem) = await AuthorizeAsync(context, sites, site);
        if (problem is not null)
        {
            return problem;
        }

        try
        {
            return TypedResults.Ok(await reader.ReadAsync(entry!, count));
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return Problems.Unavailable("Redis is unreachable; counts cannot be read right now.");
        }
    }

    /// <summary>
    /// A site's counts are public where it has a public counter; otherwise the caller must be
    /// staff with access to it. Unknown sites answer 404 only to those who could see them.
    /// </summary>
    internal static async Task<(SiteEntry? Site, IResult? Problem)> AuthorizeAsync(HttpContext context, SiteStore sites, string id)
    {
        var site = await sites.FindAsync(id);
        if (site is { Site.PublicCounter: true })
        {
            return (site, null);
        }

        var user = await context.AuthenticateStaffAsync();
        if (user is null)
        {
            return (null, site is null ? Problems.UnknownSite(id) : Problems.Unauthorized());
        }

        if (!user.CanRead(id))
        {
            return (null, Problems.Forbidden($"You have no access to site '{id}'."));
        }

        return site is null ? (null, Problems.UnknownSite(id)) : (site, null);
    }
}
