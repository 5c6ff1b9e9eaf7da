using System.Security.Claims;
using Analytics.Infrastructure;
using Analytics.Staff;

namespace Analytics.Sites;

internal static class SiteEndpoints
{
    internal sealed record SiteView(string Id, string[] Domains, string TimeZone, bool PublicCounter, string[] QueryParameters, DateTimeOffset CreatedAt)
    {
        public static SiteView Of(Site site) => new(site.Id, site.Domains, site.TimeZone, site.PublicCounter, site.QueryParameters, site.CreatedAt);
    }

    /// <summary>The answer to creating a site: the only time its ingest key is shown.</summary>
    internal sealed record SiteCreated(string Id, string[] Domains, string TimeZone, bool PublicCounter, string[] QueryParameters, DateTimeOffset CreatedAt, string IngestKey);

    internal sealed record IngestKeyView(string IngestKey);

    public static IEndpointRouteBuilder MapSites(this IEndpointRouteBuilder app)
    {
        var sites = app.MapGroup("/api/sites");
        sites.MapPost("", CreateAsync).RequireAuthorization(StaffAccess.AdminPolicy);
        sites.MapGet("", async (ClaimsPrincipal user, SiteStore store) =>
            TypedResults.Ok((await store.ListAsync()).Where(s => user.CanRead(s.Id)).Select(SiteView.Of)))
            .RequireAuthorization(StaffAccess.StaffPolicy);
        sites.MapGet("/{site}", GetAsync).RequireAuthorization(StaffAccess.StaffPolicy);
        sites.MapPatch("/{site}", UpdateAsync).RequireAuthorization(StaffAccess.AdminPolicy);
        sites.MapDelete("/{site}", DeleteAsync)
            .RequireAuthorization(StaffAccess.AdminPolicy);
        sites.MapPost("/{site}/ingest-key", RotateKeyAsync).RequireAuthorization(StaffAccess.AdminPolicy);
        return app;
    }

    private static async Task<IResult> CreateAsync(SiteRequest? request, SiteStore store, TimeProvider time)
    {
        if (request?.Id is not { } id || !SiteRules.Id().IsMatch(id))
        {
            return Problems.Invalid("id", request?.Id is null ? "id is required: 1–64 of a-z, 0-9 and '-'." : "id must be 1–64 of a-z, 0-9 and '-'.");
        }

        var (site, field, error) = request.ApplyTo(new Site { Id = id, Domains = [], CreatedAt = time.GetUtcNow() });
        if (error is not null)
        {
            return Problems.Invalid(field!, error);
        }

        if (await store.CreateAsync(site) is not { } ingestKey)
        {
            return Problems.Conflict($"There is already a site '{id}'.");
        }

        return TypedResults.Created($"/api/sites/{id}",
            new SiteCreated(site.Id, site.Domains, site.TimeZone, site.PublicCounter, site.QueryParameters, site.CreatedAt, ingestKey));
    }

    private static async Task<IResult> GetAsync(string site, ClaimsPrincipal user, SiteStore store)
    {
        if (!user.CanRead(site))
        {
            return Problems.Forbidden($"You have no access to site '{site}'.");
        }

        return await store.GetAsync(site) is { } found ? TypedResults.Ok(SiteView.Of(found)) : Problems.UnknownSite(site);
    }

    private static async Task<IResult> UpdateAsync(string site, SiteRequest? request, SiteStore store)
    {
        var existing = await store.GetAsync(site);
        if (existing is null)
        {
            return Problems.UnknownSite(site);
        }

        if (request?.Id is { } id && id != site)
        {
            return Problems.Invalid("id", "A site's id cannot change.");
        }

        if (request is null)
        {
            return Problems.Invalid("body", "A JSON body is required.");
        }

        var (updated, field, error) = request.ApplyTo(existing);
        if (error is not null)
        {
            return Problems.Invalid(field!, error);
        }

        return await store.UpdateAsync(updated) ? TypedResults.Ok(SiteView.Of(updated)) : Problems.UnknownSite(site);
    }

    private static async Task<IResult> DeleteAsync(string site, SiteRemoval removal, CancellationToken cancellationToken)
    {
        try
        {
            return await removal.RemoveAsync(site, cancellationToken) ? Results.NoContent() : Problems.UnknownSite(site);
        }
        catch (Exception e) when (e is HttpRequestException or global::ClickHouse.Driver.ClickHouseServerException or TaskCanceledException { InnerException: TimeoutException })
        {
            return Problems.Unavailable("ClickHouse could not delete the site's rows, so nothing was removed; try again when it is back.");
        }
        catch (SiteRemovalBusyException e)
        {
            return Problems.Unavailable(e.Message);
        }
    }

    private static async Task<IResult> RotateKeyAsync(string site, SiteStore store)
    {
        var existing = await store.GetAsync(site);
        if (existing is null)
        {
            return Problems.UnknownSite(site);
        }

        var ingestKey = Secrets.New("ik_");
        return await store.RotateIngestKeyAsync(existing, ingestKey) ? TypedResults.Ok(new IngestKeyView(ingestKey)) : Problems.UnknownSite(site);
    }
}
